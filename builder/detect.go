package builder

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"pier/app"
)

// Stack is how a kind of source is built and started.
type Stack struct {
	Name string // node, python, procfile, static
	// Script is the build command run in the workspace as the app user; empty
	// for stacks that need no build step.
	Script string
	// Processes are default process commands, used where the Procfile is silent.
	Processes map[string]string
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
		return Stack{Name: "python", Script: pythonScript, Processes: pythonDefaults(dir)}, nil
	case exists(dir, "Procfile"):
		return Stack{Name: "procfile", Processes: map[string]string{}}, nil
	}
	if p := pythonDefaults(dir); len(p) > 0 {
		return Stack{Name: "python", Script: pythonCompile, Processes: p}, nil
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
	script := nodeScript
	if pkg.Scripts["build"] != "" {
		script = "build=1\n" + script
	}
	return Stack{Name: "node", Script: script, Processes: procs}, nil
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

// The build scripts run as the app user in /app with /cache (the app's build
// cache, kept between builds) mounted. A dependency set that did not change
// since the last build is copied from the cache instead of installed again.
//
// With build=1 set before it (package.json has a "build" script), the Node
// script installs devDependencies too (bundlers and compilers are), runs
// `npm run build`, then prunes the devDependencies, as Heroku's Node
// buildpack does; the cache then holds the full set, under its own key.
const nodeScript = `set -e
cd /app
export npm_config_cache=/cache/npm npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
omit=--omit=dev
if [ -n "$build" ]; then omit=; fi
key=$( (cat package.json package-lock.json npm-shrinkwrap.json 2>/dev/null; echo "omit=$omit") | sha256sum | cut -c1-64)
if [ -d /cache/node_modules ] && [ "$(cat /cache/node_modules.key 2>/dev/null)" = "$key" ]; then
  echo "-----> Dependencies unchanged: reusing node_modules from the build cache"
  rm -rf node_modules
  cp -a /cache/node_modules node_modules
else
  if [ -f package-lock.json ] || [ -f npm-shrinkwrap.json ]; then
    echo "-----> Installing dependencies: npm ci${omit:+ $omit}"
    npm ci $omit
  else
    echo "-----> Installing dependencies: npm install${omit:+ $omit}"
    npm install $omit
  fi
  rm -rf /cache/node_modules /cache/node_modules.key
  if [ -d node_modules ]; then
    cp -a node_modules /cache/node_modules
    echo "$key" > /cache/node_modules.key
  fi
fi
if [ -n "$build" ]; then
  echo "-----> Building: npm run build"
  npm run build
  if [ -d node_modules ]; then
    npm prune --omit=dev >/dev/null
  fi
fi
`

const pythonCompile = `python3 -m compileall -q -x '/\.venv/' /app >/dev/null || true
`

// pythonScript installs requirements.txt into a virtualenv at /app/.venv
// made without pip (the base's pip installs into it: a smaller layer, and a
// smaller cache to copy); a requirements.txt that lists nothing needs none.
const pythonScript = `set -e
cd /app
if ! grep -qvE '^[[:space:]]*(#.*)?$' requirements.txt; then
  echo "-----> requirements.txt lists no packages: nothing to install"
else
  export PIP_CACHE_DIR=/cache/pip PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off PIP_ROOT_USER_ACTION=ignore
  key=$(cat requirements.txt | sha256sum | cut -c1-64)
  if [ -d /cache/venv ] && [ "$(cat /cache/venv.key 2>/dev/null)" = "$key" ]; then
    echo "-----> Dependencies unchanged: reusing the virtualenv from the build cache"
    cp -a /cache/venv /app/.venv
  else
    echo "-----> Installing dependencies: pip install -r requirements.txt"
    /usr/bin/python3 -m venv --without-pip /app/.venv
    /usr/bin/python3 -m pip --python /app/.venv/bin/python install -r requirements.txt
    rm -rf /cache/venv /cache/venv.key
    cp -a /app/.venv /cache/venv
    echo "$key" > /cache/venv.key
  fi
fi
` + pythonCompile
