#!/usr/bin/env python3
"""Draws bench/compare's table as a small SVG bar chart (no dependencies).

    bench/chart.py [TABLE] [OUT.svg]     defaults: bench/out/last-full.txt, bench/out/chart.svg

Each group compares smoltracker with opentracker on one figure where lower is
better: CPU microseconds per response (UDP, UDP with big swarms, HTTP with a
connection per request, HTTP keep-alive) and bytes of RSS per stored peer.
"""
import re
import sys

FIGURES = [
    ("UDP: CPU µs per response", "UDP", "µs/resp"),
    ("UDP big swarms: CPU µs per response", "UDP big swarms", "µs/resp"),
    ("HTTP connection per request: CPU µs per response", "HTTP close", "µs/resp"),
    ("HTTP keep-alive: CPU µs per response", "HTTP keep-alive", "µs/resp"),
    ("RSS growth, bytes/peer, 100k peers/10k torr.", "RSS, 100k peers", "B/peer"),
    ("RSS growth, bytes/peer, 1M peers/100k torr.", "RSS, 1M peers", "B/peer"),
]


def parse(path):
    rows = {}
    for line in open(path, encoding="utf-8"):
        for label, _, _ in FIGURES:
            if line.startswith(label):
                nums = re.findall(r"\d+(?:\.\d+)?", line[len(label):])
                if len(nums) >= 2:
                    rows[label] = (float(nums[0]), float(nums[1]))
    return rows


def svg(rows, header):
    w, bar_h, gap = 780, 14, 12
    groups = [(f, rows[f[0]]) for f in FIGURES if f[0] in rows]
    h = 60 + len(groups) * (2 * bar_h + gap)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="10" y="20" font-size="14" font-weight="bold">smoltracker vs opentracker (lower is better)</text>',
           f'<text x="10" y="38" fill="#555">{header}</text>']
    y = 52
    for (_, name, unit), (smol, ot) in groups:
        top = max(smol, ot) or 1.0
        out.append(f'<text x="10" y="{y + bar_h + 4}">{name}</text>')
        for i, (v, colour, who) in enumerate([(smol, "#2a7ab0", "smoltracker"), (ot, "#c0504d", "opentracker")]):
            length = 360 * v / top
            yy = y + i * bar_h
            out.append(f'<rect x="150" y="{yy}" width="{length:.1f}" height="{bar_h - 2}" fill="{colour}"/>')
            out.append(f'<text x="{155 + length:.1f}" y="{yy + bar_h - 4}">{v:g} {unit} ({who})</text>')
        y += 2 * bar_h + gap
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "bench/out/last-full.txt"
    dst = sys.argv[2] if len(sys.argv) > 2 else "bench/out/chart.svg"
    rows = parse(src)
    if not rows:
        print(f"chart.py: no figures found in {src}", file=sys.stderr)
        return 1
    first = open(src, encoding="utf-8").readline().strip()
    header = first.split("—", 1)[-1].strip() if "—" in first else ""
    with open(dst, "w", encoding="utf-8") as f:
        f.write(svg(rows, header))
    print(f"chart.py: wrote {dst} ({len(rows)} figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
