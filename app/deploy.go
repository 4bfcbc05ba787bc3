package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// DeployRequest is one push to deploy.
type DeployRequest struct {
	App    string
	Dir    string // checked-out source; the caller removes it afterwards
	Commit string
	User   string    // who pushed (key name)
	Out    io.Writer // progress lines for the pusher
}

// Deploy builds req.Dir and makes it the app's running release, creating the
// app on first push. It returns once the new release answers HTTP and the
// route points at it; the previous release's instances are retired after the
// drain period. On any failure the previous release keeps serving and
// nothing of the attempt is left running.
func (s *Service) Deploy(ctx context.Context, req DeployRequest) (Release, error) {
	if err := ValidName(req.App); err != nil {
		return Release{}, err
	}
	out := req.Out
	if out == nil {
		out = io.Discard
	}
	unlock := s.lock(req.App)
	defer unlock()

	procfile, err := readProcfile(req.Dir)
	if err != nil {
		return Release{}, err
	}
	if _, created, err := s.ensureApp(ctx, req.App); err != nil {
		return Release{}, err
	} else if created {
		fmt.Fprintf(out, "-----> Created app %s\n", req.App)
	}

	build, err := s.builder.Build(ctx, BuildRequest{App: req.App, Dir: req.Dir, Out: out})
	if err != nil {
		return Release{}, err
	}
	keepImage := false
	defer func() {
		if !keepImage {
			s.removeImage(build.Image)
		}
	}()

	procs := map[string]string{}
	for k, v := range build.Processes {
		procs[k] = v
	}
	for k, v := range procfile {
		procs[k] = v
	}
	if procs["web"] == "" {
		return Release{}, fmt.Errorf("no web process: add a Procfile with a line like `web: node server.js`")
	}

	prev, err := s.store.Releases(ctx, req.App)
	if err != nil {
		return Release{}, err
	}
	rel := Release{
		App: req.App, Version: 1, Image: build.Image, Stack: build.Stack,
		Commit: req.Commit, Processes: procs, CreatedBy: req.User, CreatedAt: time.Now().UTC(),
	}
	if len(prev) > 0 {
		rel.Version = prev[0].Version + 1
	}

	fmt.Fprintf(out, "-----> Starting v%d: web: %s\n", rel.Version, procs["web"])
	in, err := s.startWeb(ctx, rel)
	if err != nil {
		return Release{}, err
	}
	if err := s.apply(ctx, PutRelease{Release: rel}); err != nil {
		s.stop(in.ID)
		return Release{}, fmt.Errorf("record release v%d: %w", rel.Version, err)
	}
	keepImage = true
	old := s.instancesOf(ctx, req.App, func(i Instance) bool { return i.ID != in.ID })
	s.routes.Set(req.App, []string{in.Addr})
	fmt.Fprintf(out, "-----> Released v%d of %s\n", rel.Version, req.App)
	s.log.Info("released", "app", req.App, "version", rel.Version, "by", req.User, "commit", short(req.Commit))
	go s.retire(old)
	return rel, nil
}

// startWeb starts one web instance of rel and waits until it answers. On
// failure the instance is gone and the error carries the end of its output.
func (s *Service) startWeb(ctx context.Context, rel Release) (Instance, error) {
	in := Instance{
		ID: instanceID(rel.App), App: rel.App, Release: rel.Version, Process: "web",
		Image: rel.Image, Command: rel.Processes["web"], Port: s.set.WebPort,
		Env: []string{"PORT=" + strconv.Itoa(s.set.WebPort)},
	}
	in, err := s.runtime.Start(ctx, in)
	if err != nil {
		s.stop(in.ID)
		return Instance{}, err
	}
	if err := s.waitReady(ctx, in); err != nil {
		tail := s.runtime.Tail(rel.App, in.ID, 20)
		s.stop(in.ID)
		msg := fmt.Sprintf("v%d did not become ready: %v", rel.Version, err)
		if len(tail) > 0 {
			msg += "\nlast output of web:\n    " + strings.Join(tail, "\n    ")
		}
		return Instance{}, errors.New(msg)
	}
	return in, nil
}

// waitReady waits for the health check, and gives up early if the process
// exits.
func (s *Service) waitReady(ctx context.Context, in Instance) error {
	ctx, cancel := context.WithTimeout(ctx, s.set.ReadyTimeout)
	defer cancel()
	ctx, exited := context.WithCancelCause(ctx)
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if ok, err := s.runtime.Running(ctx, in.ID); err == nil && !ok {
					exited(errExited)
					return
				}
			}
		}
	}()
	err := s.health.Ready(ctx, in.App, in.Addr)
	if err == nil {
		return nil
	}
	if cause := context.Cause(ctx); errors.Is(cause, errExited) {
		return cause
	}
	return fmt.Errorf("no answer within %s (%v); the web process must listen on $PORT (%d)",
		s.set.ReadyTimeout, err, in.Port)
}

var errExited = errors.New("the web process exited")

// retire lets in-flight requests to old instances finish, then stops them.
func (s *Service) retire(old []Instance) {
	if len(old) == 0 {
		return
	}
	time.Sleep(s.set.Drain)
	for _, in := range old {
		s.stop(in.ID)
	}
}

// instancesOf lists an app's instances that match keep.
func (s *Service) instancesOf(ctx context.Context, app string, keep func(Instance) bool) []Instance {
	all, err := s.runtime.Instances(ctx)
	if err != nil {
		s.log.Warn("list instances", "err", err)
		return nil
	}
	var out []Instance
	for _, in := range all {
		if in.App == app && keep(in) {
			out = append(out, in)
		}
	}
	return out
}

func (s *Service) stop(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.runtime.Stop(ctx, id); err != nil {
		s.log.Warn("stop instance", "id", id, "err", err)
	}
}

func (s *Service) removeImage(image string) {
	if image == "" {
		return
	}
	if err := s.runtime.RemoveImage(context.Background(), image); err != nil {
		s.log.Warn("remove image", "image", image, "err", err)
	}
}

// instanceID names an instance: the app and a random suffix (container IDs
// are limited to 76 characters; app names to 63).
func instanceID(app string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return app + "-" + hex.EncodeToString(b)
}

func short(commit string) string {
	if len(commit) > 8 {
		return commit[:8]
	}
	return commit
}
