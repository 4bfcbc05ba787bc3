package app

import "context"

// KeptImages is what start-up keeps of the app images on the machine:
// images, those a kept release of an app runs, and apps, the apps that
// exist (their dependency layers stay). Anything else of pier's own was
// left by a crash, or by a release forgotten while its image could not be
// removed.
func (s *Service) KeptImages(ctx context.Context) (images, apps map[string]bool, err error) {
	list, err := s.store.Apps(ctx)
	if err != nil {
		return nil, nil, err
	}
	images, apps = map[string]bool{}, map[string]bool{}
	for _, a := range list {
		apps[a.Name] = true
		rs, err := s.store.Releases(ctx, a.Name)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range rs {
			images[r.Image] = true
		}
	}
	return images, apps, nil
}
