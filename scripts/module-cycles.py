#!/usr/bin/env python3
"""Lists the `crate::` dependencies between src/'s top-level modules and any cycle among them.

Usage: python3 scripts/module-cycles.py [src]; exits 1 when there is a cycle."""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else "src"
deps = {}
for dirpath, _, files in os.walk(root):
    for f in files:
        if not f.endswith(".rs"): continue
        p = os.path.join(dirpath, f)
        rel = os.path.relpath(p, root)
        top = rel.split(os.sep)[0].removesuffix(".rs")
        if top in ("lib",): continue
        text = open(p).read()
        # drop comments
        text = re.sub(r"//[^\n]*", "", text)
        # cut the test module
        m = re.search(r"#\[cfg\(test\)\]\s*mod tests", text)
        if m: text = text[:m.start()]
        used = set()
        for m in re.finditer(r"crate::(\{|[A-Za-z_][A-Za-z0-9_]*)", text):
            if m.group(1) == "{":
                # grouped: take top-level idents inside braces
                i = m.end(); depth = 1; buf = ""
                while depth and i < len(text):
                    c = text[i]
                    if c == "{": depth += 1
                    elif c == "}": depth -= 1
                    if depth == 1 or (depth == 2 and c == "{"): buf += c if depth == 1 else ""
                    if depth == 1 and c == "{": pass
                    i += 1
                # buf holds depth-1 text; items separated by commas
                for item in buf.split(","):
                    item = item.strip()
                    mm = re.match(r"([A-Za-z_][A-Za-z0-9_]*)", item)
                    if mm: used.add(mm.group(1))
            else:
                used.add(m.group(1))
        used.discard(top); used.discard("self")
        ROOT = {"TestServer": "server", "TestServerBuilder": "server", "TestChannel": "server",
                "Transport": "transport", "TestRequest": "handler", "collect": "handler",
                "StreamOutcome": "handler", "Stub": "mock", "Reply": "mock", "Faults": "fault"}
        used = {ROOT.get(u, u) for u in used}
        used.discard(top)
        mods = {u for u in used if os.path.exists(os.path.join(root, u + ".rs")) or os.path.isdir(os.path.join(root, u))}
        deps.setdefault(top, set()).update(mods)
for k in sorted(deps):
    print(f"{k} -> {', '.join(sorted(deps[k]))}")
# cycles: strongly connected components
index = {}; low = {}; stack = []; on = set(); sccs = []; n = [0]
def sc(v):
    index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
    for w in deps.get(v, ()):
        if w not in index: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in list(deps): 
    if v not in index: sc(v)
pairs = sorted({tuple(sorted((a, b))) for a in deps for b in deps[a] if a in deps.get(b, ())})
print("two-way:", pairs)
print("cycles:", sccs if sccs else "none")
sys.exit(1 if sccs else 0)
