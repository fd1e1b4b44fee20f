// rdtapply: what a Kubernetes RDT plugin does with goresctrl, as one command.
//
// usage: rdtapply CONFIG.yaml CLASS PID
//
// It initialises goresctrl's rdt package on the resctrl it finds in /proc/mounts,
// applies CONFIG (partitions and classes), adds PID to CLASS and prints each class
// with its schemata and pids. Built from Debian's goresctrl source:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o rdtapply .
package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/intel/goresctrl/pkg/rdt"
)

// logger keeps goresctrl's warnings and errors and drops its debug chatter.
type logger struct{}

func (logger) Debugf(string, ...interface{}) {}
func (logger) Infof(string, ...interface{})  {}
func (logger) Warnf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "goresctrl: warning: "+format+"\n", args...)
}
func (logger) Errorf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "goresctrl: error: "+format+"\n", args...)
}
func (logger) Panicf(format string, args ...interface{}) { panic(fmt.Sprintf(format, args...)) }
func (logger) Fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "goresctrl: fatal: "+format+"\n", args...)
	os.Exit(1)
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "rdtapply: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 4 {
		fail("usage: rdtapply CONFIG.yaml CLASS PID")
	}
	config, class, pid := os.Args[1], os.Args[2], os.Args[3]
	rdt.SetLogger(logger{})
	if err := rdt.Initialize(""); err != nil {
		fail("rdt.Initialize: %v", err)
	}
	data, err := os.ReadFile(config)
	if err != nil {
		fail("%v", err)
	}
	if err := rdt.SetConfigFromData(data, false); err != nil {
		fail("rdt.SetConfigFromData: %v", err)
	}
	cls, ok := rdt.GetClass(class)
	if !ok {
		fail("no class %q", class)
	}
	if err := cls.AddPids(pid); err != nil {
		fail("AddPids: %v", err)
	}
	classes := rdt.GetClasses()
	sort.Slice(classes, func(i, j int) bool { return classes[i].Name() < classes[j].Name() })
	for _, c := range classes {
		pids, err := c.GetPids()
		if err != nil {
			fail("GetPids(%s): %v", c.Name(), err)
		}
		if c.Name() == rdt.RootClassName {
			pids = nil // the root group holds every other task: not worth listing
		}
		fmt.Printf("class %s pids %v\n", c.Name(), pids)
	}
}
