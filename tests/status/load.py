#!/usr/bin/env python3
"""Status page test helper: writes a whitelist of named releases (some names
hostile), announces peers to them over HTTP, and writes what a scrape reports
for each torrent as JSON for the browser check.

  load.py whitelist FILE             write the whitelist
  load.py state FILE                 write a state file with 90 days of downloads
  load.py announce PORT FILE OUT     announce peers, scrape, write OUT
STATUS_DEMO=1 leaves the hostile names out (for the README's screenshot).
"""
import hashlib, json, os, random, sys, time, urllib.request

# (raw bytes after the hash, the label the page must show)
NAMES = [
    (b"debian-12.8.0-amd64-netinst.iso", "debian-12.8.0-amd64-netinst.iso"),
    (b"openwrt-24.10.0-ramips-mt7621-sysupgrade.bin", "openwrt-24.10.0-ramips-mt7621-sysupgrade.bin"),
    (b"driverpacks-11.09-main.7z", "driverpacks-11.09-main.7z"),
    (b"archlinux-2024.12.01-x86_64.iso", "archlinux-2024.12.01-x86_64.iso"),
    (b"big-buck-bunny-1080p.mkv", "big-buck-bunny-1080p.mkv"),
    (b"sintel-4k.mkv", "sintel-4k.mkv"),
    (b"podcast-episode-142.mp3", "podcast-episode-142.mp3"),
    ("Caf\u00e9 del Mar \u2014 Volumen Uno (2024).flac".encode(), "Caf\u00e9 del Mar \u2014 Volumen Uno (2024).flac"),
    (b"photos-2024-summer.zip", "photos-2024-summer.zip"),
    (b"<script>alert(1)</script><img src=x onerror=alert(2)>", "<script>alert(1)</script><img src=x onerror=alert(2)>"),
    (b"say \"hi\" \\ back\\slash '", "say \"hi\" \\ back\\slash '"),
    (b"</td></tr></table><!-- broken", "</td></tr></table><!-- broken"),
    (b"bad utf8 \xff\xfe end", "bad utf8 \ufffd\ufffd end"),
    (b"very-long-release-name-" + b"x" * 60, ("very-long-release-name-" + "x" * 60)[:64]),
]
UNNAMED = 3
if os.environ.get("STATUS_DEMO") == "1":
    # The README's screenshot: plain release names only.
    NAMES, UNNAMED = NAMES[:9], 1


def hashes():
    named = [hashlib.sha1(b"release %d" % i).digest() for i in range(len(NAMES))]
    bare = [hashlib.sha1(b"bare %d" % i).digest() for i in range(UNNAMED)]
    return named, bare


def bdecode(b, i=0):
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c in (b"d", b"l"):
        i += 1
        items = []
        while b[i:i + 1] != b"e":
            v, i = bdecode(b, i)
            items.append(v)
        if c == b"l":
            return items, i + 1
        return dict(zip(items[::2], items[1::2])), i + 1
    j = b.index(b":", i)
    n = int(b[i:j])
    return b[j + 1:j + 1 + n], j + 1 + n


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.read()


def enc(h):
    return "".join("%%%02X" % x for x in h)


def main():
    named, bare = hashes()
    if sys.argv[1] == "whitelist":
        lines = b"# releases, as a CMS writes them\n"
        for h, (raw, _) in zip(named, NAMES):
            lines += h.hex().encode() + b"  " + raw + b"\n"
        for h in bare:
            lines += h.hex().encode() + b"\n"
        open(sys.argv[2], "wb").write(lines)
        return
    if sys.argv[1] == "state":
        # Downloads per day before today, as a tracker would have saved them:
        # after the counts' end marker, the history section.
        today = int(time.time()) // 86400
        rnd = random.Random(29)
        lines = ["# smoltracker state v1", "# tracker_id 29", "# end 0",
                 f"# history newest {today}"]
        total = {}
        rows = []
        for h in named:
            days = {}
            for d in range(today - 89, today):
                if rnd.random() < 0.4:
                    days[d] = rnd.randint(1, 40 if h == named[0] else 9)
                    total[d] = total.get(d, 0) + days[d]
            rows.append(f"# history release {h.hex()} 0 "
                        + " ".join(f"{d}:{n}" for d, n in sorted(days.items())))
        lines.append("# history total " + " ".join(f"{d}:{n}" for d, n in sorted(total.items())))
        lines += rows + [f"# history end {len(rows)}"]
        open(sys.argv[2], "w").write("\n".join(lines) + "\n")
        return
    port, out = int(sys.argv[2]), sys.argv[4]
    rnd = random.Random(15)
    for h in named + bare:
        seeders, leechers = rnd.randint(0, 30), rnd.randint(0, 20)
        for i in range(seeders + leechers):
            left = 0 if i < seeders else 1000
            ev = "&event=completed" if i < seeders and rnd.random() < 0.5 else ""
            get(port, f"/announce?info_hash={enc(h)}&port={10000 + i}&left={left}{ev}")
    expected = []
    for k, h in enumerate(named + bare):
        files = bdecode(get(port, f"/scrape?info_hash={enc(h)}"))[0][b"files"]
        s = files[h]
        label = NAMES[k][1] if k < len(NAMES) else None
        expected.append({"info_hash": h.hex(), "label": label, "seeders": s[b"complete"],
                         "leechers": s[b"incomplete"], "completed": s[b"downloaded"]})
    json.dump(expected, open(out, "w"), indent=1)


main()
