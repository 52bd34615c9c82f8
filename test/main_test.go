package test

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	RemoveBuiltBinary()
	os.Exit(code)
}
