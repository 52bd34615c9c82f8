package config

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// unique is one way two items of a list may clash: items with equal keys do, and msg
// says so for item v (written s in the file), whose equal came first at path first,
// on line firstLine.
type unique[T any] struct {
	key func(v T) any
	msg func(v T, s, first string, firstLine int) string
}

// scalarList decodes a list of scalars at path (a null is an empty list): each item
// is parsed by parse, which returns the value or what is wrong and what would be
// right; an item that clashes with an earlier one under any of uniques is an error
// that names the earlier one. It returns the good items with their paths, in file
// order, and false if n is not a list. want says what one item is, e.g. "an IP
// address, e.g. 198.18.0.14"; example is a whole list.
func scalarList[T any](d *decoder, path string, n *yaml.Node, example, want string,
	parse func(string) (T, string), uniques ...unique[T]) (vals []T, paths []string, ok bool) {
	items, ok := d.seq(path, n, example)
	if !ok {
		return nil, nil, false
	}
	seen := make([]map[any]string, len(uniques)) // by unique: key -> path of its first item
	for i := range seen {
		seen[i] = map[any]string{}
	}
items:
	for i, it := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = it.Line
		s, ok := d.scalar(p, it, want)
		if !ok {
			continue
		}
		v, msg := parse(s)
		if msg != "" {
			d.add(it.Line, p, "%s", msg)
			continue
		}
		for j, u := range uniques {
			if first, dup := seen[j][u.key(v)]; dup {
				d.add(it.Line, p, "%s", u.msg(v, s, first, d.lines[first]))
				continue items
			}
		}
		for j, u := range uniques {
			seen[j][u.key(v)] = p
		}
		vals, paths = append(vals, v), append(paths, p)
	}
	return vals, paths, true
}
