package commands

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"pier/app"
)

// keysBackend is what the ssh-keys:* commands use: the registered keys,
// and the app a key may be limited to.
type keysBackend interface {
	Keys(ctx context.Context) ([]app.Key, error)
	AddKey(ctx context.Context, k app.Key) (app.Key, error)
	RemoveKey(ctx context.Context, name string) error
	App(ctx context.Context, name string) (app.App, error)
}

// keysCommands are ssh-keys:add, list and remove.
type keysCommands struct{ p keysBackend }

// maxKeyInput bounds what ssh-keys:add reads from stdin; real public keys
// are a few KiB at most.
const maxKeyInput = 64 << 10

// keysAdd registers the one public key on stdin under NAME and prints its
// SHA256 fingerprint. Options and comments of the authorized_keys line are
// dropped.
func (h keysCommands) keysAdd(ctx context.Context, c Call, args []string) error {
	pos, flags, err := splitFlags(args, "--app")
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badUsage("")
	}
	name := pos[0]
	if only := flags["--app"]; only != "" {
		if err := app.ValidName(only); err != nil {
			return badUsage("--app: %v", err)
		}
		if _, err := h.p.App(ctx, only); err != nil {
			return err
		}
	}
	if err := app.ValidName(name); err != nil {
		return badUsage("key name: %v", err)
	}
	pub, err := readPublicKey(c.Stdin)
	if err != nil {
		return err
	}
	k := app.Key{
		Name:        name,
		Fingerprint: gossh.FingerprintSHA256(pub),
		PublicKey:   strings.TrimSpace(string(gossh.MarshalAuthorizedKey(pub))),
		App:         flags["--app"],
	}
	if _, err := h.p.AddKey(ctx, k); err != nil {
		return &subjectError{kind: "key", name: name, err: err,
			exists: fmt.Sprintf("a key named %q or this same public key is already registered; see ssh-keys:list", name)}
	}
	fmt.Fprintln(c.Stdout, k.Fingerprint)
	return nil
}

// readPublicKey parses exactly one authorized_keys line from r; blank and
// comment lines are ignored. Wrong input is a usage error.
func readPublicKey(r io.Reader) (gossh.PublicKey, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxKeyInput+1))
	if err != nil {
		return nil, fmt.Errorf("read key from stdin: %w", err)
	}
	if len(data) > maxKeyInput {
		return nil, badUsage("stdin is longer than %d KiB: expected one public key line", maxKeyInput>>10)
	}
	if strings.TrimSpace(string(data)) == "" {
		return nil, badUsage("no public key on stdin")
	}
	pub, _, _, rest, err := gossh.ParseAuthorizedKey(data)
	if err != nil {
		return nil, badUsage("stdin is not an SSH public key (expected one authorized_keys line such as the contents of ~/.ssh/id_ed25519.pub)")
	}
	if _, _, _, _, err := gossh.ParseAuthorizedKey(rest); err == nil {
		return nil, badUsage("stdin holds more than one public key: add them one at a time")
	}
	return pub, nil
}

// keysList prints the registered keys; --format json prints an array of
// {"name","fingerprint","public_key","created_at"} objects.
func (h keysCommands) keysList(ctx context.Context, c Call, args []string) error {
	asJSON, err := listFormat(args)
	if err != nil {
		return err
	}
	keys, err := h.p.Keys(ctx)
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	if asJSON {
		type row struct {
			Name        string    `json:"name"`
			Fingerprint string    `json:"fingerprint"`
			PublicKey   string    `json:"public_key"`
			App         string    `json:"app"` // "" for an admin key
			CreatedAt   time.Time `json:"created_at"`
		}
		rows := make([]row, 0, len(keys))
		for _, k := range keys {
			rows = append(rows, row{k.Name, k.Fingerprint, k.PublicKey, k.App, k.CreatedAt})
		}
		return writeJSON(c.Stdout, rows)
	}
	if len(keys) == 0 {
		fmt.Fprintln(c.Stdout, "no keys yet: run ssh-keys:add NAME < KEY.pub")
		return nil
	}
	tw := columns(c.Stdout)
	fmt.Fprintln(tw, "NAME\tFINGERPRINT\tACCESS\tADDED")
	for _, k := range keys {
		access := "admin"
		if k.App != "" {
			access = "app " + k.App
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Name, k.Fingerprint, access, k.CreatedAt.Format(time.DateOnly))
	}
	return tw.Flush()
}

func (h keysCommands) keysRemove(ctx context.Context, c Call, args []string) error {
	if len(args) != 1 {
		return badUsage("")
	}
	name := args[0]
	if err := app.ValidName(name); err != nil {
		return badUsage("key name: %v", err)
	}
	if err := h.p.RemoveKey(ctx, name); err != nil {
		return about("key", name, err)
	}
	fmt.Fprintf(c.Stdout, "removed key %s\n", name)
	return nil
}
