package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/logging"
)

// configPaths expands the agent's --config values: a file is itself, a directory is
// every *.yaml and *.yml file in it, in name order.
func configPaths(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		fi, err := os.Stat(v)
		if err != nil {
			return nil, fmt.Errorf("--config: %w", err)
		}
		if !fi.IsDir() {
			out = append(out, v)
			continue
		}
		var files []string
		for _, pattern := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(v, pattern))
			files = append(files, m...)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("--config: directory %s has no *.yaml file; put one witness file per cluster in it", v)
		}
		slices.Sort(files)
		out = append(out, files...)
	}
	return out, nil
}

// loadConfigs loads the agent's files. Several files are one witness serving several
// clusters (DESIGN §6): each must be a witness's, and no two may share a port, a data
// directory, an admin socket or a metrics listener.
func loadConfigs(values []string) ([]*config.Config, error) {
	paths, err := configPaths(values)
	if err != nil {
		return nil, err
	}
	var cfgs []*config.Config
	var errs []error
	for _, p := range paths {
		cfg, err := config.Load(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cfgs = append(cfgs, cfg)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(cfgs) < 2 {
		return cfgs, nil
	}
	used := map[string]string{} // what → the file that uses it
	claim := func(cfg *config.Config, field, what string) {
		if what == "" {
			return
		}
		if other, dup := used[what]; dup {
			errs = append(errs, fmt.Errorf("%s: %s is %s, which %s uses too; each cluster a witness serves needs its own ports, data directory, admin socket and metrics listener", cfg.File, field, what, other))
			return
		}
		used[what] = cfg.File
	}
	for _, cfg := range cfgs {
		if !cfg.Witness() {
			errs = append(errs, fmt.Errorf("%s: node.role is %s; only a witness serves several clusters from one process (node.role: witness), so run one agent per load balancer file", cfg.File, cfg.Node.Role))
			continue
		}
		claim(cfg, "node.raft_port", fmt.Sprintf("port %d", cfg.Node.RaftPort))
		claim(cfg, "node.gossip_port", fmt.Sprintf("port %d", cfg.Node.GossipPort))
		claim(cfg, "node.data_dir", filepath.Clean(cfg.Node.DataDir))
		claim(cfg, "admin.socket", filepath.Clean(cfg.Admin.Socket))
		claim(cfg, "admin.listen", cfg.Admin.Listen)
		claim(cfg, "metrics.listen", cfg.Metrics.Listen)
	}
	return cfgs, errors.Join(errs...)
}

// served is one cluster of a witness process.
type served struct {
	cfg   *config.Config
	node  *cluster.Node
	log   *slog.Logger
	level *slog.LevelVar
}

// runWitnesses runs one witness node per file until a signal: each cluster is its own
// Raft group with its own ports, data directory, keys and admin socket. One that
// leaves its cluster stops alone; one whose loop fails stops the process (non-zero),
// so that systemd restarts it.
func runWitnesses(c *cli.Context, cfgs []*config.Config) error {
	var all []*served
	stopAll := func() {
		var wg sync.WaitGroup
		for _, s := range all {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*s.cfg.Cluster.Timing.ElectionTimeout+2*time.Second)
				defer cancel()
				if err := s.node.Stop(ctx); err != nil {
					s.log.Warn("stop", "err", err)
				}
			}()
		}
		wg.Wait()
	}
	for _, cfg := range cfgs {
		logger, level := logging.NewWithLevel(c.App.ErrWriter, cfg.Log)
		logger = logger.With("cluster", strings.TrimSuffix(filepath.Base(cfg.File), filepath.Ext(cfg.File)))
		node, err := cluster.Start(cfg, logger)
		if err != nil {
			stopAll()
			return fmt.Errorf("%s: %w", cfg.File, err)
		}
		all = append(all, &served{cfg: cfg, node: node, log: logger, level: level})
	}
	sigs, hups, stopSignals := agentSignals()
	defer stopSignals()

	events := make(chan error, len(all))
	for _, s := range all {
		go func() {
			select {
			case <-s.node.Left():
				s.log.Info("left the cluster (raftvip leave); this cluster stops, the others go on")
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				s.node.Stop(ctx)
				events <- nil
			case <-s.node.Done():
				err := s.node.Fatal()
				if err == nil {
					err = errors.New("the election loop stopped unexpectedly")
				}
				events <- fmt.Errorf("%s: %w", s.cfg.File, err)
			}
		}()
	}
	left := 0
	for {
		select {
		case <-hups:
			for _, s := range all {
				reload(s.node, s.cfg.File, s.level, s.log)
			}
		case sig := <-sigs:
			for _, s := range all {
				s.log.Info("signal received; stopping", "signal", sig.String())
			}
			stopAll()
			return nil
		case err := <-events:
			if err != nil {
				stopAll()
				return err
			}
			if left++; left == len(all) {
				return nil
			}
		}
	}
}
