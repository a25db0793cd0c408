package spoolstorage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"
)

type spool struct {
	cfg    *Config
	logger *zap.Logger

	mu   sync.Mutex
	open map[string]bool // client directories in use: one client each
}

var _ storage.Extension = (*spool)(nil)

func newSpool(set extension.Settings, cfg *Config) *spool {
	return &spool{cfg: cfg, logger: set.Logger, open: map[string]bool{}}
}

func (s *spool) Start(context.Context, component.Host) error {
	if s.cfg.CreateDirectory {
		if err := os.MkdirAll(s.cfg.Directory, 0o700); err != nil {
			return fmt.Errorf("settlewatch_spool: create directory: %w", err)
		}
	}
	s.warnOfOtherQueues()
	return nil
}

// warnOfOtherQueues names the files of the directory that are not ours,
// such as file_storage's queue from before an upgrade: requests still in
// one are sent only by a collector running file_storage over it.
func (s *spool) warnOfOtherQueues() {
	entries, err := os.ReadDir(s.cfg.Directory)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			s.logger.Warn("The queue directory holds a file settlewatch_spool does not use: if it is file_storage's queue, "+
				"requests still in it are sent only by running the collector once more with file_storage (collector/spoolstorage/README.md)",
				zap.String("file", filepath.Join(s.cfg.Directory, e.Name())))
		}
	}
}

func (s *spool) Shutdown(context.Context) error { return nil }

// GetClient opens the storage of one component: a subdirectory named after
// its kind, id and storage name, finishing or discarding whatever batch a
// crash interrupted there.
func (s *spool) GetClient(_ context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	dir := filepath.Join(s.cfg.Directory, clientDirName(kind, id, name))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[dir] {
		return nil, fmt.Errorf("settlewatch_spool: %s is already open", dir)
	}
	c, err := openClient(dir, s.cfg.FSync, s.logger.With(zap.String("directory", dir)))
	if err != nil {
		return nil, fmt.Errorf("settlewatch_spool: %w", err)
	}
	s.open[dir] = true
	c.onClose = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.open, dir)
	}
	return c, nil
}

// clientDirName is kind_type_name[_storage], with anything but letters,
// digits, '-' and '.' replaced, so that a component id makes a file name.
func clientDirName(kind component.Kind, id component.ID, name string) string {
	parts := []string{strings.ToLower(kind.String()), id.Type().String()}
	if id.Name() != "" {
		parts = append(parts, id.Name())
	}
	if name != "" {
		parts = append(parts, name)
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.', r == '_':
			return r
		}
		return '~'
	}, strings.Join(parts, "_"))
}
