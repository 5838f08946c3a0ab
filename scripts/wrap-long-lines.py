#!/usr/bin/env python3
"""wrap-long-lines.py FILE...: wrap C# lines longer than .editorconfig's max_line_length.

A one-off helper for the layout clean-up (kept for new code): it breaks a line only where
C# allows any white space, outside strings, characters and comments: after a comma, before
&& || ?? and after => or =, with the continuation indented one level more; a trailing
// comment moves above its line; /// and // comments are re-flowed. Lines it cannot break
safely are left for a person (it prints them). Always rebuild and test after running it.
"""
import re
import sys
import textwrap

LIMIT = 150
TARGET = 120  # where comments are re-flowed


STRINGS = []  # (start, end, prefix, verbatim, holes) of the last code_mask call


def code_mask(line):
    """Per character: True where it is code (not inside a string, char or comment).
    Returns (mask, comment_start or None)."""
    STRINGS.clear()
    mask = [True] * len(line)
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if line.startswith('"""', i):
            return None, None  # raw string: leave the line alone
        if c == '/' and i + 1 < n and line[i + 1] == '/':
            for j in range(i, n):
                mask[j] = False
            return mask, i
        if c == '/' and i + 1 < n and line[i + 1] == '*':
            return None, None
        if c == "'":
            j = i + 1
            while j < n and line[j] != "'":
                j += 2 if line[j] == '\\' else 1
            for k in range(i, min(j + 1, n)):
                mask[k] = False
            i = j + 1
            continue
        if c == '"' or (c in '$@' and i + 1 < n and line[i + 1] in '"$@'):
            j = i
            verbatim = interp = False
            while j < n and line[j] in '$@':
                verbatim |= line[j] == '@'
                interp |= line[j] == '$'
                j += 1
            if j >= n or line[j] != '"':
                i += 1
                continue
            prefix = line[i:j]
            j += 1
            depth = 0
            holes = set()
            while j < n:
                if depth > 0:
                    holes.add(j)
                ch = line[j]
                if interp and ch == '{':
                    if j + 1 < n and line[j + 1] == '{' and depth == 0:
                        j += 2
                        continue
                    depth += 1
                elif interp and ch == '}' and depth > 0:
                    depth -= 1
                elif depth == 0 and ch == '\\' and not verbatim:
                    j += 2
                    continue
                elif depth == 0 and ch == '"':
                    if verbatim and j + 1 < n and line[j + 1] == '"':
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                return None, None  # a string that does not end on its line
            for k in range(i, j + 1):
                mask[k] = False
            STRINGS.append((i, j, prefix, verbatim, holes))
            i = j + 1
            continue
        i += 1
    return mask, None


def split_string(line, cont):
    """Splits the string literal that crosses the limit at a space: "a b" -> "a " + / "b"."""
    for start, end, prefix, verbatim, holes in STRINGS:
        if verbatim or end < LIMIT - 10 or start > LIMIT - 25 or ('$' in prefix and 'Interpolated(' in line):
            # "a" + "b" of interpolated strings is a string, not the FormattableString such a method takes
            continue
        body0 = start + len(prefix) + 1
        for k in range(min(end - 1, LIMIT - 4), body0 + 10, -1):
            if line[k] == ' ' and k not in holes and k - 1 not in holes and line[k - 1] != '\\':
                head = line[:k + 1] + '" +'
                tail = cont + prefix + '"' + line[k + 1:]
                return head, tail
    return None


def break_points(line, mask):
    """Candidate (index where the continuation starts, priority) pairs."""
    pts = []
    depth = 0
    for i, c in enumerate(line):
        if not mask[i]:
            continue
        if c in '([{':
            depth += 1
        elif c in ')]}':
            depth -= 1
        elif c == ',' and i + 1 < len(line) and line[i + 1] == ' ':
            pts.append((i + 2, 3 if depth > 0 else 2))
        elif line.startswith(' && ', i) or line.startswith(' || ', i) or line.startswith(' ?? ', i):
            pts.append((i + 1, 2))
        elif c == '.' and i > 0 and line[i - 1] == ')' and i + 1 < len(line) and line[i + 1].isupper():
            pts.append((i, 2))
        elif line.startswith(' => ', i):
            pts.append((i + 4, 1))
        elif line.startswith(' = ', i) and not line.startswith(' == ', i - 1):
            pts.append((i + 3, 1))
        elif line.startswith(' ? ', i) or line.startswith(' : ', i):
            pts.append((i + 1, 0))
    return pts


CONTROL = re.compile(r'^(?:else if|if|while|foreach|for|using|lock|catch|fixed)\s*\(|^(?:else|try|finally|do)\b')


def top_level(line, mask, start=0):
    """(index, char) of the code characters of line at bracket depth 0, from start."""
    depth = 0
    for i in range(start, len(line)):
        if not mask[i]:
            continue
        c = line[i]
        if c in '([{':
            if depth == 0:
                yield i, c
            depth += 1
        elif c in ')]}':
            depth -= 1
            if depth == 0:
                yield i, c
        elif depth == 0:
            yield i, c


def close_of(line, mask, open_at):
    depth = 0
    for i in range(open_at, len(line)):
        if not mask[i]:
            continue
        if line[i] in '([{':
            depth += 1
        elif line[i] in ')]}':
            depth -= 1
            if depth == 0:
                return i
    return None


def restructure(line, force=False):
    """Lays a too-long line of several statements out as C# is written: a case label on its own line,
    one statement a line, a control statement's body under its head and a one-line { ... } block as a
    block. Returns the new lines, or None when the line is not of that kind."""
    mask, comment = code_mask(line)
    if mask is None or comment is not None:
        return None
    indent = re.match(r'\s*', line).group(0)
    body = line[len(indent):]
    off = len(indent)
    m = re.match(r'(?:case\b[^;{}?]*?|default)\s*:(?!:)\s*(?=\S)', body)
    if m:
        return [indent + body[:m.end()].rstrip()] + expand(indent + '    ' + body[m.end():], True)
    ends = [i for i, c in top_level(line, mask, off) if c == ';']
    if len(ends) > 1 and ends[-1] == len(line.rstrip()) - 1:
        out, prev = [], off
        for e in ends:
            out += expand(indent + line[prev:e + 1].strip())
            prev = e + 1
        return out
    m = CONTROL.match(body)
    if not m:
        return None
    head_end = off + m.end()
    if body[m.end() - 1] == '(':
        close = close_of(line, mask, head_end - 1)
        if close is None:
            return None
        head_end = close + 1
    head, rest = line[:head_end].rstrip(), line[head_end:].strip()
    if not rest:
        return None
    if rest.startswith('{'):
        if not rest.endswith('}'):
            return None
        return [head, indent + '{'] + expand(indent + '    ' + rest[1:-1].strip(), True) + [indent + '}']
    return [head] + expand(indent + '    ' + rest)


def expand(line, force=False):
    """restructure(line) when the line is too long (or force, for a block's body), else the line."""
    if len(line) <= LIMIT and not force:
        return [line]
    return restructure(line) or [line]


def wrap_code(line):
    indent = re.match(r'\s*', line).group(0)
    cont = indent + '    '
    out = []
    first = True
    while len(line) > LIMIT:
        mask, comment = code_mask(line)
        if mask is None or comment is not None:
            return None
        pts = [(i, p) for i, p in break_points(line, mask)
               if len(cont) + 20 < i <= LIMIT and line[:i].strip() and line[i:].strip()]
        if not pts:
            split = split_string(line, cont)
            if split is None:
                return None
            out.append(split[0])
            line = split[1]
            continue
        best = max(pts, key=lambda t: (t[1], t[0]))
        # prefer a late break of the best kind
        head, tail = line[:best[0]].rstrip(), line[best[0]:].lstrip()
        out.append(head)
        line = (cont if first or True else cont) + tail
        first = False
    out.append(line)
    return out


def reflow_comment(line):
    m = re.match(r'(\s*)(///?) ?(.*)$', line)
    indent, mark, text = m.group(1), m.group(2), m.group(3)
    width = max(60, TARGET - len(indent) - len(mark) - 1)
    s = re.match(r'<summary>(.*)</summary>$', text) if mark == '///' else None
    if s:
        body = textwrap.wrap(s.group(1), width, break_long_words=False, break_on_hyphens=False)
        return [f'{indent}/// <summary>'] + [f'{indent}/// {b}' for b in body] + [f'{indent}/// </summary>']
    body = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)
    return [f'{indent}{mark} {b}' for b in body]


def wrap_file(path):
    lines = open(path, encoding='utf-8').read().split('\n')
    out, left = [], []
    in_raw = False  # inside a multi-line raw string literal ("""): data, never wrapped
    for no, line in enumerate(lines, 1):
        raw_line = in_raw
        if line.count('"""') % 2 == 1:
            in_raw = not in_raw
        if len(line) <= LIMIT or raw_line:
            out.append(line)
            continue
        stripped = line.lstrip()
        if stripped.startswith('//'):
            out.extend(reflow_comment(line))
            continue
        mask, comment = code_mask(line)
        if mask is not None and comment is not None:
            indent = re.match(r'\s*', line).group(0)
            code = line[:comment].rstrip()
            out.extend(reflow_comment(indent + line[comment:]))
            line = code
            if len(line) <= LIMIT:
                out.append(line)
                continue
        for piece in expand(line):
            wrapped = wrap_code(piece) if len(piece) > LIMIT else [piece]
            if wrapped is None:
                left.append(f'{path}:{no}: {len(piece)} columns')
                out.append(piece)
            else:
                out.extend(wrapped)
    open(path, 'w', encoding='utf-8').write('\n'.join(out))
    return left


if __name__ == '__main__':
    rest = []
    for p in sys.argv[1:]:
        rest += wrap_file(p)
    for r in rest:
        print(r)
    sys.exit(1 if rest else 0)
