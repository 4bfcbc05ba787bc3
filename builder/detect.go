package builder

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"pier/app"
)

// Stack is how a kind of source is built and started.
type Stack struct {
	Name string // node, python, procfile, static
	// Deps installs the app's dependencies; nil when there are none to
	// install.
	Deps *Deps
	// Script is the build command run in the workspace, on the source and
	// its dependencies, as the app user; empty for stacks that need no
	// build step.
	Script string
	// Processes are default process commands, used where the Procfile is silent.
	Processes map[string]string
	// Note, if set, is said during the build (why nothing is installed).
	Note string
}

// ErrUnknownStack means pier cannot tell how to build the source.
var ErrUnknownStack = errors.New("cannot tell how to build this app: add a package.json (Node), a requirements.txt (Python), a Procfile, or an index.html (a static site: at the top, in public/ or in dist/)")

// Detect inspects the source in dir and returns its stack. Checked in order:
// package.json (Node), requirements.txt (Python), Procfile (any command the
// base can run), app.py/main.py/server.py (Python, standard library), then
// an index.html in public/, dist/ or the top (a static site: no build, no
// process). Whatever the stack, a build that ends without a web process
// but with such an index.html is served as a static site (see Build).
func Detect(dir string) (Stack, error) {
	switch {
	case exists(dir, "package.json"):
		return nodeStack(dir)
	case exists(dir, "requirements.txt"):
		return pythonStack(dir)
	case exists(dir, "Procfile"):
		return Stack{Name: "procfile", Processes: map[string]string{}}, nil
	}
	if p := pythonDefaults(dir); len(p) > 0 {
		return Stack{Name: "python", Processes: p}, nil
	}
	if _, ok := siteDir(dir); ok {
		return Stack{Name: "static", Processes: map[string]string{}}, nil
	}
	return Stack{}, ErrUnknownStack
}

func nodeStack(dir string) (Stack, error) {
	var pkg struct {
		Main    string            `json:"main"`
		Scripts map[string]string `json:"scripts"`
	}
	b, _, err := app.ReadSourceFile(dir, "package.json", 1<<20)
	if err != nil {
		return Stack{}, err
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		return Stack{}, fmt.Errorf("package.json is not valid JSON: %w", err)
	}
	procs := map[string]string{}
	switch {
	case pkg.Scripts["start"] != "":
		// What `npm start` runs, without an npm process (~40 MB) in front of it;
		// node_modules/.bin is on PATH as npm would put it.
		procs["web"] = pkg.Scripts["start"]
	case pkg.Main != "" && exists(dir, pkg.Main):
		procs["web"] = "node " + shellQuote(pkg.Main)
	default:
		for _, f := range []string{"server.js", "index.js", "app.js"} {
			if exists(dir, f) {
				procs["web"] = "node " + f
				break
			}
		}
	}
	deps := &Deps{Dir: "node_modules", What: "node_modules", Script: nodeDeps,
		Files: []string{"package.json", "package-lock.json", "npm-shrinkwrap.json", ".npmrc"}}
	script := ""
	if pkg.Scripts["build"] != "" {
		// A build needs the devDependencies: they are installed too.
		deps.Script = "build=1\n" + deps.Script
		script = nodeBuild
	}
	return Stack{Name: "node", Deps: deps, Script: script, Processes: procs}, nil
}

func pythonStack(dir string) (Stack, error) {
	s := Stack{Name: "python", Processes: pythonDefaults(dir)}
	b, _, err := app.ReadSourceFile(dir, "requirements.txt", 1<<20)
	if err != nil {
		return Stack{}, err
	}
	reqs := requirements(string(b))
	if len(reqs) == 0 {
		s.Note = "requirements.txt lists no packages: nothing to install"
		return s, nil
	}
	s.Deps = &Deps{Dir: ".venv", What: "virtualenv", Script: pythonDeps, Files: []string{"requirements.txt"}}
	for _, r := range reqs {
		switch {
		case r.local:
			// The app's own code is installed (".", "-e ./lib"): it has to
			// be installed again with every change of the code.
			s.Deps.Every = true
		case r.file != "":
			s.Deps.Files = append(s.Deps.Files, r.file)
		}
	}
	return s, nil
}

// requirement is what one line of a requirements file refers to in the
// source: another file (-r, -c, a wheel or archive) or a directory.
type requirement struct {
	file  string // a file of the source the line reads
	local bool   // a directory of the source is installed
}

// requirements lists the lines of a requirements file that name something
// to install, with what they refer to in the source.
func requirements(text string) []requirement {
	var out []requirement
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		var r requirement
		for i := 0; i < len(f); i++ {
			arg := f[i]
			switch {
			case arg == "-r" || arg == "-c" || arg == "--requirement" || arg == "--constraint":
				if i+1 < len(f) {
					r.file = f[i+1]
					i++
				}
			case strings.HasPrefix(arg, "--requirement=") || strings.HasPrefix(arg, "--constraint="):
				r.file = arg[strings.Index(arg, "=")+1:]
			case arg == "-e" || arg == "--editable":
			case strings.HasPrefix(arg, "-"):
			case arg == "." || strings.HasPrefix(arg, "./") || strings.HasPrefix(arg, "../") || strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, "file:"):
				p := strings.TrimPrefix(arg, "file:")
				if strings.HasSuffix(p, ".whl") || strings.HasSuffix(p, ".tar.gz") || strings.HasSuffix(p, ".zip") {
					r.file = p
				} else {
					r.local = true
				}
			}
		}
		out = append(out, r)
	}
	return out
}

func pythonDefaults(dir string) map[string]string {
	for _, f := range []string{"app.py", "main.py", "server.py"} {
		if exists(dir, f) {
			return map[string]string{"web": "python3 " + f}
		}
	}
	return map[string]string{}
}

// exists reports whether dir holds a regular file name (not a link out of dir).
func exists(dir, name string) bool {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return false
	}
	defer root.Close()
	fi, err := root.Stat(name)
	return err == nil && fi.Mode().IsRegular()
}

// present reports whether dir holds anything called name.
func present(dir, name string) bool {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return false
	}
	defer root.Close()
	_, err = root.Lstat(name)
	return err == nil
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, `'\''`...)
			continue
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

// The install scripts run as the app user in /app with /cache (the app's
// build cache, kept between builds: npm's and pip's download caches)
// mounted; see Deps for when they run.
//
// With build=1 set before it (package.json has a "build" script), the Node
// script installs devDependencies too (bundlers and compilers are);
// nodeBuild then runs `npm run build` and prunes them, as Heroku's Node
// buildpack does.
const nodeDeps = `set -e
cd /app
export npm_config_cache=/cache/npm npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
rm -rf /cache/node_modules /cache/node_modules.key # copies older versions of pier kept
omit=--omit=dev
if [ -n "$build" ]; then omit=; fi
if [ -f package-lock.json ] || [ -f npm-shrinkwrap.json ]; then
  echo "-----> Installing dependencies: npm ci${omit:+ $omit}"
  npm ci $omit
else
  echo "-----> Installing dependencies: npm install${omit:+ $omit}"
  npm install $omit
fi
`

const nodeBuild = `set -e
cd /app
export npm_config_cache=/cache/npm npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
echo "-----> Building: npm run build"
npm run build
if [ -d node_modules ]; then
  npm prune --omit=dev >/dev/null
fi
`

// pythonDeps installs requirements.txt into a virtualenv at /app/.venv
// made without pip (the base's pip installs into it: a smaller layer). pip
// compiles what it installs; the app's own modules are compiled as they
// are imported, as on Heroku.
const pythonDeps = `set -e
cd /app
export PIP_CACHE_DIR=/cache/pip PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off PIP_ROOT_USER_ACTION=ignore
rm -rf /cache/venv /cache/venv.key # the copy older versions of pier kept
echo "-----> Installing dependencies: pip install -r requirements.txt"
/usr/bin/python3 -m venv --without-pip /app/.venv
/usr/bin/python3 -m pip --python /app/.venv/bin/python install -r requirements.txt
`
