package spoolstorage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Config is the configuration of the settlewatch_spool extension.
//
//	extensions:
//	  settlewatch_spool:
//	    directory: /var/lib/settlewatch/queue  # one subdirectory per queue
//	    create_directory: true                 # create it (0700) when missing
//	    fsync: false                           # true: survive a power loss too
type Config struct {
	// Directory holds one subdirectory per client (per exporter's queue).
	Directory string `mapstructure:"directory"`
	// CreateDirectory creates Directory, mode 0700, when it is missing.
	CreateDirectory bool `mapstructure:"create_directory"`
	// FSync flushes every written file and the directory before a batch
	// returns. Off, a write survives the collector's crash or SIGKILL (the
	// page cache has it) but not the machine's power loss, as file_storage
	// without fsync.
	FSync bool `mapstructure:"fsync"`
}

func createDefaultConfig() *Config {
	return &Config{Directory: filepath.Join(os.TempDir(), "settlewatch", "queue")}
}

// Validate reports every problem of the configuration at once.
func (cfg *Config) Validate() error {
	if cfg.Directory == "" {
		return errors.New("directory must be set: the queue's files are kept there")
	}
	if !filepath.IsAbs(cfg.Directory) {
		return fmt.Errorf("directory %q must be an absolute path", cfg.Directory)
	}
	if cfg.CreateDirectory {
		return nil
	}
	info, err := os.Stat(cfg.Directory)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("directory %q does not exist (set create_directory: true to create it)", cfg.Directory)
	case err != nil:
		return fmt.Errorf("directory %q: %w", cfg.Directory, err)
	case !info.IsDir():
		return fmt.Errorf("directory %q is not a directory", cfg.Directory)
	}
	return nil
}
