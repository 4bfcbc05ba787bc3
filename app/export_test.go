package app

// StopRenameAfter has renames of s stop after step n, as a crash there
// would: nothing is undone and the journal stays.
func StopRenameAfter(s *Service, n int) {
	s.renameStep = func(step int) error {
		if step == n {
			return errRenameStopped
		}
		return nil
	}
}

// RenameSteps is how many steps a rename of s takes, the journal's
// clearing last.
func RenameSteps(s *Service) int { return len(s.files) + 2 }
