#!/usr/bin/env python3
"""Function-body lengths of cube's library code (issue 12's rule): no body over --max lines
(150) and at most --max-long bodies (4) over --long lines (100). Tests and benches are exempt.

A body is counted from its opening to its closing brace, comments included. Functions are
found by brace structure after comments, strings and preprocessor lines are blanked: a '{' at
namespace or class scope whose head ends in ')' (with qualifiers, an initializer list or a
trailing return type) opens a function; lambdas count toward the function that holds them.

Usage: function_lengths.py ROOT [--max N] [--long N] [--max-long N] [--list N]
Exit 0 when the rule holds, 1 otherwise (the offenders are printed).
"""
import argparse
import os
import re
import sys

LIBRARY_FOLDERS = ["core", "problems", "models", "solvers", "metrics", "experiments"]


def blank(text):
    """Comments, string/char literals and preprocessor lines replaced by spaces (newlines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif text.startswith('R"', i):
            delim = re.match(r'R"([^(]*)\(', text[i:]).group(1)
            j = text.find(")" + delim + '"', i) + len(delim) + 2
        elif text[i] in "\"'":
            quote, j = text[i], i + 1
            while j < n and text[j] != quote:
                j += 2 if text[j] == "\\" else 1
            j += 1
        else:
            out.append(text[i])
            i += 1
            continue
        out.append(re.sub(r"[^\n]", " ", text[i:j]))
        i = j
    text = "".join(out)
    return re.sub(r"(?m)^[ \t]*#.*(\\\n.*)*$", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def strip_template_heads(head):
    """The head without its leading `template <...>` clauses (their `class` is no class)."""
    while head.startswith("template"):
        start = head.find("<")
        if start < 0:
            return head
        depth, j = 0, start
        for j in range(start, len(head)):
            depth += {"<": 1, ">": -1}.get(head[j], 0)
            if depth == 0:
                break
        head = head[j + 1 :].strip()
    return head


def function_bodies(path):
    """(lines, first line, head) of every function body in the file."""
    text = blank(open(path, encoding="utf-8").read())
    stack, last, found = [], 0, []
    for i, c in enumerate(text):
        if c == "{":
            head = strip_template_heads(re.sub(r"\s+", " ", text[last:i].strip()))
            kind = "block"
            if not stack or stack[-1][0] in ("namespace", "class"):
                if head == "" or re.match(r"^(namespace|extern)\b", head):
                    kind = "namespace"
                elif re.search(r"\b(class|struct|union|enum)\b", head) and "(" not in head.split(":")[0]:
                    kind = "class"
                elif ")" in head and not re.search(r"=\s*$", head):
                    kind = "function"
            stack.append((kind, i, head))
            last = i + 1
        elif c == "}":
            if stack:
                kind, start, head = stack.pop()
                if kind == "function":
                    found.append((text.count("\n", start, i) + 1, text.count("\n", 0, start) + 1, head))
            last = i + 1
        elif c == ";":
            last = i + 1
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root")
    parser.add_argument("--max", type=int, default=150)
    parser.add_argument("--long", type=int, default=100)
    parser.add_argument("--max-long", type=int, default=4)
    parser.add_argument("--list", type=int, default=0, help="also list bodies over N lines")
    args = parser.parse_args()
    bodies = []
    for folder in LIBRARY_FOLDERS:
        for directory, _, files in os.walk(os.path.join(args.root, folder)):
            for name in sorted(files):
                if name.endswith((".cc", ".h", ".inc")):
                    path = os.path.join(directory, name)
                    for lines, line, head in function_bodies(path):
                        bodies.append((lines, os.path.relpath(path, args.root), line, head[-70:]))
    bodies.sort(reverse=True)
    too_long = [b for b in bodies if b[0] > args.max]
    long = [b for b in bodies if b[0] > args.long]
    shown = [b for b in bodies if b[0] > min(args.long, args.list or args.long)]
    for lines, path, line, head in shown:
        print(f"{lines:4d} {path}:{line} {head}")
    print(f"{len(too_long)} bodies over {args.max} lines (allowed 0), "
          f"{len(long)} over {args.long} (allowed {args.max_long})")
    return 1 if too_long or len(long) > args.max_long else 0


if __name__ == "__main__":
    sys.exit(main())
