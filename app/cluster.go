package app

import "time"

// JoinToken is what the cluster keeps of a one-time join token
// (pier cluster:token): never the secret, only its SHA-256.
type JoinToken struct {
	ID         string
	SecretHash []byte
	Role       string // "server" or "worker"
	Expires    time.Time
	Used       bool
}

// AddJoinToken records a join token. ErrExists if its ID is taken.
type AddJoinToken struct{ Token JoinToken }

// UseJoinToken marks a join token used, once: ErrNotFound if there is no
// such token, ErrExists if it was used already. Recorded through the log,
// so two nodes joining with one token at once cannot both succeed.
type UseJoinToken struct{ ID string }

func (AddJoinToken) isChange() {}
func (UseJoinToken) isChange() {}
