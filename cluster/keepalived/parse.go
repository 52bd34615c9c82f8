package keepalived

import (
	"fmt"
	"strings"
)

// A reader of keepalived.conf, as keepalived itself reads it (lib/parser.c): a
// statement is a keyword and its arguments on one line; "{" and "}" outside double
// quotes open and close the block of the statement before them, on the same line or
// the next; '#' and '!' outside double quotes start a comment ("\#" and "\!" are the
// characters themselves); a '\' at the end of a line continues it on the next. Words
// are split at white space and double quotes, and a double-quoted string is one word.
// Nothing is read from disk: include is a statement like any other, for the caller to
// report.

// Statement is one statement of a keepalived.conf.
type Statement struct {
	Line  int      // where it starts, from 1
	Words []string // the keyword first, then its arguments, double quotes removed
	// Raw is the statement's text, comments removed: keepalived splits the commands of
	// script and notify* again from it, with single quotes, double quotes and escapes.
	Raw string
	// Block is the statements inside the statement's { }, nil when it has none.
	Block []*Statement
	// BlockLine is the line of the block's '{', 0 when it has none.
	BlockLine int
}

// Keyword is the statement's first word.
func (s *Statement) Keyword() string { return s.Words[0] }

// Args are the words after the keyword.
func (s *Statement) Args() []string { return s.Words[1:] }

// Conf is a parsed keepalived.conf: its top-level statements in file order.
type Conf struct {
	Statements []*Statement
}

// SyntaxError is a keepalived.conf that cannot be read: where and why.
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

// maxDepth bounds how deeply blocks may nest; keepalived's deepest is 4
// (virtual_server { real_server { HTTP_GET { url { } } } }).
const maxDepth = 32

// Parse reads a keepalived.conf. It fails on what keepalived would not read
// as meant: an unterminated double quote, a '}' with no block open, a '{' with no
// statement before it, a block left open at the end of the file.
func Parse(src string) (*Conf, error) {
	lines, err := logicalLines(src)
	if err != nil {
		return nil, err
	}
	p := &parser{lines: lines}
	stmts, err := p.block(0, 0)
	if err != nil {
		return nil, err
	}
	return &Conf{Statements: stmts}, nil
}

// srcLine is one logical line: a statement's words, or a lone "{" or "}".
type srcLine struct {
	line  int
	words []string
	raw   string
	brace byte // '{' or '}', 0 for words
}

type parser struct {
	lines []srcLine
	pos   int
}

// block reads statements until the '}' that closes a block opened on line open, or
// the end of the file at depth 0.
func (p *parser) block(depth, open int) ([]*Statement, error) {
	stmts := []*Statement{}
	for p.pos < len(p.lines) {
		l := p.lines[p.pos]
		p.pos++
		switch l.brace {
		case '}':
			if depth == 0 {
				return nil, &SyntaxError{l.line, "'}' with no block open; remove it or add the '{' it closes"}
			}
			return stmts, nil
		case '{':
			var last *Statement
			if len(stmts) > 0 {
				last = stmts[len(stmts)-1]
			}
			if last == nil || last.BlockLine != 0 {
				return nil, &SyntaxError{l.line, "'{' with no keyword before it; a block belongs to the statement before it, e.g. vrrp_instance VI_1 {"}
			}
			if depth+1 > maxDepth {
				return nil, &SyntaxError{l.line, fmt.Sprintf("blocks nested more than %d deep", maxDepth)}
			}
			last.BlockLine = l.line
			inner, err := p.block(depth+1, l.line)
			if err != nil {
				return nil, err
			}
			last.Block = inner
		default:
			stmts = append(stmts, &Statement{Line: l.line, Words: l.words, Raw: l.raw})
		}
	}
	if depth > 0 {
		return nil, &SyntaxError{open, "'{' is never closed: a '}' is missing before the end of the file"}
	}
	return stmts, nil
}

// logicalLines splits src into logical lines: comments removed, continuations
// joined, and every '{' and '}' outside double quotes a line of its own.
func logicalLines(src string) ([]srcLine, error) {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	phys := strings.Split(src, "\n")
	var out []srcLine
	for i := 0; i < len(phys); i++ {
		start := i + 1
		text, cont, err := decomment(phys[i], start)
		if err != nil {
			return nil, err
		}
		if cont {
			var b strings.Builder
			b.WriteString(text)
			for cont && i+1 < len(phys) {
				i++
				var next string
				next, cont, err = decomment(phys[i], i+1)
				if err != nil {
					return nil, err
				}
				b.WriteString(" " + next)
			}
			text = b.String()
		}
		out = splitBraces(out, strings.TrimSpace(text), start)
	}
	return out, nil
}

// decomment removes a comment and leading and trailing blanks from one physical
// line, and says whether it ends in a continuation '\' (keepalived's decomment).
func decomment(s string, line int) (string, bool, error) {
	var b strings.Builder
	quote := false
	cont := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quote = !quote
		case c == '\\' && i+1 == len(s):
			cont = true
			continue
		case c == '\\' && !quote && (s[i+1] == '#' || s[i+1] == '!'):
			i++
			c = s[i]
		case c == '\\':
			b.WriteByte(c)
			i++
			c = s[i]
		case !quote && (c == '#' || c == '!'):
			i = len(s)
			continue
		}
		b.WriteByte(c)
	}
	if quote {
		return "", false, &SyntaxError{line, `a double quote (") is not closed on this line`}
	}
	return strings.TrimSpace(b.String()), cont, nil
}

// splitBraces appends the logical lines of text to out: the words before each '{'
// or '}' outside double quotes, and the brace itself.
func splitBraces(out []srcLine, text string, line int) []srcLine {
	for text != "" {
		i := braceCount(text)
		if i < 0 {
			if words := splitWords(text); len(words) > 0 {
				out = append(out, srcLine{line: line, words: words, raw: text})
			}
			return out
		}
		if before := strings.TrimSpace(text[:i]); before != "" {
			if words := splitWords(before); len(words) > 0 {
				out = append(out, srcLine{line: line, words: words, raw: before})
			}
		}
		out = append(out, srcLine{line: line, brace: text[i]})
		text = strings.TrimSpace(text[i+1:])
	}
	return out
}

// braceCount is the index of the first '{' or '}' outside double quotes, or -1.
func braceCount(s string) int {
	quote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quote = !quote
		case '{', '}':
			if !quote {
				return i
			}
		}
	}
	return -1
}

// isSpace is keepalived's white space.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

// splitWords splits a line into words as keepalived's alloc_strvec does: at white space
// and double quotes, a double-quoted string being one word (it may be empty).
func splitWords(s string) []string {
	var words []string
	for i := 0; i < len(s); {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			break
		}
		if s[i] == '"' {
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 { // decomment rejects this; take the rest
				words = append(words, s[i+1:])
				break
			}
			words = append(words, s[i+1:i+1+j])
			i += j + 2
			continue
		}
		j := i
		for j < len(s) && !isSpace(s[j]) && s[j] != '"' {
			j++
		}
		words = append(words, s[i:j])
		i = j
	}
	return words
}

// quotedSplit splits s into words as keepalived's alloc_strvec_quoted_escaped does
// for commands: at white space outside single or double quotes, which are removed.
// With escapes, backslash sequences are decoded (\n, \t, \x41, \101, \cX, and '\'
// before any other character is that character); without, a backslash and the
// character after it are kept as they are. It fails on an unclosed quote or a '\' at
// the end.
func quotedSplit(s string, escapes bool) ([]string, error) {
	var words []string
	for i := 0; i < len(s); {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			break
		}
		var w []byte
		var quote byte
		for i < len(s) {
			c := s[i]
			switch {
			case c == '\\':
				i++
				if i == len(s) {
					return nil, fmt.Errorf("%q ends in a '\\' with nothing to escape", s)
				}
				if !escapes {
					w = append(w, '\\', s[i])
					i++
					continue
				}
				var r byte
				r, i = escapeAt(s, i)
				w = append(w, r)
				continue
			case quote != 0 && c == quote:
				quote = 0
				i++
				continue
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
				i++
				continue
			case quote == 0 && isSpace(c):
			default:
				w = append(w, c)
				i++
				continue
			}
			break
		}
		if quote != 0 {
			return nil, fmt.Errorf("%q: the %c quote is not closed", s, quote)
		}
		words = append(words, string(w))
	}
	return words, nil
}

// escapeAt decodes the escape sequence whose character after the '\' is at s[i], and
// returns the byte and the index after the sequence.
func escapeAt(s string, i int) (byte, int) {
	hex := func(c byte) (byte, bool) {
		switch {
		case c >= '0' && c <= '9':
			return c - '0', true
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10, true
		case c >= 'A' && c <= 'F':
			return c - 'A' + 10, true
		}
		return 0, false
	}
	c := s[i]
	switch {
	case c == 'x' && i+1 < len(s):
		if v, ok := hex(s[i+1]); ok {
			i += 2
			if i < len(s) {
				if v2, ok := hex(s[i]); ok {
					v = v<<4 | v2
					i++
				}
			}
			return v, i
		}
	case c == 'c' && i+1 < len(s):
		return s[i+1] & 0x1f, i + 2
	case c >= '0' && c <= '7':
		v := c - '0'
		i++
		for k := 0; k < 2 && i < len(s) && s[i] >= '0' && s[i] <= '7'; k++ {
			v = v<<3 + (s[i] - '0')
			i++
		}
		return v, i
	}
	switch c {
	case 'a':
		return '\a', i + 1
	case 'b':
		return '\b', i + 1
	case 'E':
		return 0x1b, i + 1
	case 'f':
		return '\f', i + 1
	case 'n':
		return '\n', i + 1
	case 'r':
		return '\r', i + 1
	case 't':
		return '\t', i + 1
	case 'v':
		return '\v', i + 1
	}
	return c, i + 1
}
