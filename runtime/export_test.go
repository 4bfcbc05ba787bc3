package runtime

// SetRawLogLimit changes the size past which collected raw logs are emptied
// (1 MiB), so that end-to-end tests see a truncation with little output.
// Call it before CollectLogs.
func (c *Containerd) SetRawLogLimit(n int64) { c.logs.SetRawLimit(n) }

// SetDiskLimits sets what app processes and builds may write (see WatchDisk).
func (c *Containerd) SetDiskLimits(app, build int64) {
	c.cfg.DiskLimit, c.cfg.BuildDiskLimit = app, build
}
