package logstore

import "pier/appdirs"

// RenameFiles moves an app's log directory, with the Store's state of it.
// Call it only while none of from's instances run. It fails, moving
// nothing, if to has logs already.
func (c *Store) RenameFiles(from, to string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.apps[from]
	if a != nil {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.closePipes()
	}
	if err := (appdirs.Dirs{Dir: c.dir}).RenameFiles(from, to); err != nil {
		return err
	}
	if a != nil {
		a.gone = true
	}
	delete(c.apps, from)
	delete(c.apps, to)
	return nil
}

// RemoveFiles deletes an app's log directory and the Store's state of it.
func (c *Store) RemoveFiles(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.apps[name]; a != nil {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.closePipes()
		a.gone = true
	}
	delete(c.apps, name)
	return appdirs.Dirs{Dir: c.dir}.RemoveFiles(name)
}
