package app

import "time"

// Change is one change to desired state. Every change pier makes passes
// through Store.Apply as one of these values, so that a replicated log can
// later carry them without touching the callers.
type Change interface{ isChange() }

// CreateApp records a new app. ErrExists if the name is taken.
type CreateApp struct{ App App }

// PutRelease records a release and makes it the app's current one; the
// app's config becomes the release's.
//
// Placement, if not nil, replaces the app's placement in the same step:
// the machines that run the release from then on. Formation, if not nil,
// replaces the app's formation in the same step too: a deploy's formation
// (app.json's) lands with its release or not at all.
type PutRelease struct {
	Release   Release
	Placement []string
	Formation map[string]int `json:",omitempty"`
}

// SetConfig replaces an app's config vars (applied by the next release).
type SetConfig struct {
	App    string
	Config map[string]string
}

// SetFormation replaces how many instances of each process type run.
type SetFormation struct {
	App       string
	Formation map[string]int
}

// SetChecks replaces how an app's deploys check new processes (App.Checks).
type SetChecks struct {
	App    string
	Checks map[string]string
}

// AppCert is a certificate an app's owner brought (certs:add), PEM: the
// chain, leaf first, and its private key.
type AppCert struct {
	CertPEM string `json:"cert"`
	KeyPEM  string `json:"key"`
}

// SetAppCert records an app's own certificate (certs:add), or removes it
// (an empty Cert: certs:remove).
type SetAppCert struct {
	App  string
	Cert AppCert
	At   time.Time
}

// SetStopped records ps:stop (true) or ps:start (false).
type SetStopped struct {
	App     string
	Stopped bool
}

// SetVolumes replaces an app's storage mounts.
type SetVolumes struct {
	App     string
	Volumes []Volume
}

// SetSleepPolicy sets (or with nil, clears) an app's own sleep policy.
type SetSleepPolicy struct {
	App    string
	Policy *SleepPolicy
}

// SetSleepState records how deeply an idle app sleeps.
type SetSleepState struct {
	App   string
	State SleepState
}

// DeleteReleases forgets old releases of an app.
type DeleteReleases struct {
	App      string
	Versions []int
}

// SetLimits sets an app's resource limits (resource:limit).
type SetLimits struct {
	App    string
	Limits Limits
}

// AddDomain makes an app answer at a custom domain too. ErrExists if
// another app has the domain.
type AddDomain struct{ App, Domain string }

// RemoveDomain stops an app answering at a custom domain.
type RemoveDomain struct{ App, Domain string }

// SetAccess replaces an app's access rules (the http-auth commands').
type SetAccess struct {
	App    string
	Access Access
}

// DestroyApp forgets an app and everything recorded about it.
type DestroyApp struct{ Name string }

// RenameApp gives an app a new name, with everything recorded about it:
// releases, config, domains, cron history, keys limited to it, its audit
// log. ErrNotFound if From does not exist, ErrExists if To does.
type RenameApp struct{ From, To string }

// AddKey records an SSH key. ErrExists if the name or key is taken.
type AddKey struct{ Key Key }

// RemoveKey deletes the SSH key with this name. ErrNotFound if none.
type RemoveKey struct{ Name string }

// Applied is a change as the store recorded it. Index orders every change
// ever applied to desired state; it only grows.
type Applied struct {
	Index  uint64
	Change Change
}

// Resync stands in a watch for changes the watcher missed: it must read
// the desired state again. The store never records one.
type Resync struct{}

func (Resync) isChange()     {}
func (CreateApp) isChange()  {}
func (PutRelease) isChange() {}
func (AddKey) isChange()     {}
func (RemoveKey) isChange()  {}

func (SetConfig) isChange()      {}
func (SetFormation) isChange()   {}
func (SetStopped) isChange()     {}
func (SetChecks) isChange()      {}
func (SetAppCert) isChange()     {}
func (SetVolumes) isChange()     {}
func (DeleteReleases) isChange() {}
func (SetSleepPolicy) isChange() {}
func (SetSleepState) isChange()  {}
func (SetLimits) isChange()      {}
func (DestroyApp) isChange()     {}
func (RenameApp) isChange()      {}
func (AddDomain) isChange()      {}
func (RemoveDomain) isChange()   {}
func (SetAccess) isChange()      {}

// SetCronSuspended replaces the IDs of an app's suspended cron entries; "*"
// suspends every entry, including ones later releases add.
type SetCronSuspended struct {
	App string
	IDs []string
}

func (SetCronSuspended) isChange() {}
