package config

import (
	"fmt"
	"strings"
)

// FieldError is one problem in a config file: where it is, which field, what is
// wrong and what would be right. Line is 0 when the field is missing altogether.
type FieldError struct {
	File  string
	Line  int
	Field string // path such as vip.addresses[1]; empty for the file as a whole
	Msg   string
}

func (e FieldError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Error is every problem found in a config file, in file order.
type Error struct {
	Errors []FieldError
}

// Error prints one problem per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		lines[i] = fe.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the single problems, so errors.As finds a FieldError.
func (e *Error) Unwrap() []error {
	errs := make([]error, len(e.Errors))
	for i, fe := range e.Errors {
		errs[i] = fe
	}
	return errs
}
