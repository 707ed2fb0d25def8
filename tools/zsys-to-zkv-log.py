#!/usr/bin/env python3
"""zsys-to-zkv-log.py FILE...: moves zkvd's log calls from CZMQ's zsys_* to util/zkv_log.h.

Replaces every call zsys_error / zsys_warning / zsys_notice / zsys_info / zsys_debug with
zkv_log_error ... zkv_log_debug, moves the call's continuation lines that were aligned after
its opening parenthesis by as many columns as the name grew, and includes "zkv_log.h" in a
file that now calls it. Run it again after merging code that logs through zsys_*: a file with
nothing to replace is left as it is. Prints the files it changed.

    tools/zsys-to-zkv-log.py actors/*.c
"""
import re
import sys

CALL = re.compile(r"\bzsys_(error|warning|notice|info|debug)(\s*\()")


def convert(text):
    lines = text.split("\n")
    out = []
    i = 0
    changed = False
    while i < len(lines):
        line = lines[i]
        m = CALL.search(line)
        if not m or line.lstrip().startswith("//"):
            out.append(line)
            i += 1
            continue
        # Every call on this line; the shift applies to continuation lines of the last one
        # still open at the end of the line.
        new = CALL.sub(lambda c: "zkv_log_" + c.group(1) + c.group(2), line)
        changed = True
        grow = len("zkv_log_") - len("zsys_")
        last = list(CALL.finditer(line))[-1]
        start = last.start()  # where the call begins in the old line
        depth = line[start:].count("(") - line[start:].count(")")
        out.append(new)
        i += 1
        # Continuation lines indented past the call's start are its arguments, aligned after
        # its "(": they move right with it.
        while depth > 0 and i < len(lines):
            cont = lines[i]
            indent = len(cont) - len(cont.lstrip(" "))
            depth += cont.count("(") - cont.count(")")
            if cont.strip() and indent > start:
                cont = " " * grow + cont
            out.append(cont)
            i += 1
    text = "\n".join(out)
    if changed and not re.search(r'#include\s+"zkv_log.h"', text):
        text = add_include(text)
    return text, changed


def add_include(text):
    """Includes "zkv_log.h" among the file's own includes, in name order where it can."""
    lines = text.split("\n")
    own = [n for n, l in enumerate(lines) if re.match(r'#include\s+"[^"]+"', l)]
    if not own:
        anyinc = [n for n, l in enumerate(lines) if l.startswith("#include")]
        at = anyinc[0] if anyinc else 0
        lines.insert(at, '#include "zkv_log.h"')
        return "\n".join(lines)
    # The first own include is the file's own header (STYLE.md); sort in after it.
    at = own[-1] + 1
    for n in own[1:]:
        name = re.match(r'#include\s+"([^"]+)"', lines[n]).group(1)
        if name > "zkv_log.h":
            at = n
            break
        at = n + 1
    if len(own) == 1:
        at = own[0] + 1
    lines.insert(at, '#include "zkv_log.h"')
    return "\n".join(lines)


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for path in paths:
        with open(path) as f:
            text = f.read()
        new, changed = convert(text)
        if changed and new != text:
            with open(path, "w") as f:
                f.write(new)
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
