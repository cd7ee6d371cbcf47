#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Summarises test results: every *.xml in a results directory (gtest XML and
pytest/JUnit XML both use <testcase>), plus the exit codes scripts/test.sh recorded
in exit-codes.txt ("NAME RC" per line, NAME being the XML file's stem).

A testcase fails if it has a <failure> or <error> child, is skipped if it has a
<skipped> child (or gtest marked it notrun/skipped). A binary that exited non-zero
without an XML file, or whose XML shows no failure, counts as one failed test.

Prints one line per suite and, as the very last line:
    N passed, N failed[, N skipped]
Exit status: 1 if anything failed, else 0."""
import argparse
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

# pytest: 0 all passed, 5 no tests collected.  Everything else non-zero is a failure.
OK_EXIT = {"e2e": {0, 5}}


def classify(tc: ET.Element) -> str:
    tags = {child.tag for child in tc}
    if "failure" in tags or "error" in tags:
        return "failed"
    if "skipped" in tags:
        return "skipped"
    if tc.get("result") in ("skipped", "suppressed") or tc.get("status") == "notrun":
        return "skipped"
    return "passed"


def first_line(tc: ET.Element) -> str:
    for child in tc:
        if child.tag in ("failure", "error"):
            msg = child.get("message") or (child.text or "")
            lines = [ln.strip() for ln in msg.strip().splitlines() if ln.strip()]
            msg = " | ".join(lines) if lines else child.tag
            return msg[:200]
    return ""


def case_name(tc: ET.Element) -> str:
    cls = tc.get("classname") or ""
    name = tc.get("name") or "?"
    return f"{cls}.{name}" if cls else name


def read_exit_codes(path: Path) -> dict:
    codes = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2:
                try:
                    codes[parts[0]] = int(parts[1])
                except ValueError:
                    pass
    return codes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="directory holding the XML files")
    ap.add_argument("--max-failures", type=int, default=20,
                    help="failed test names to list per suite")
    args = ap.parse_args()
    rdir = Path(args.results)

    codes = read_exit_codes(rdir / "exit-codes.txt")
    xmls = sorted(rdir.glob("*.xml")) if rdir.is_dir() else []
    suites = {p.stem: p for p in xmls}
    for name in codes:
        suites.setdefault(name, None)

    total = {"passed": 0, "failed": 0, "skipped": 0}
    width = max([len(n) for n in suites] + [5])
    for name in sorted(suites):
        path = suites[name]
        counts = {"passed": 0, "failed": 0, "skipped": 0}
        notes, failures = [], []
        if path is not None:
            try:
                root = ET.parse(path).getroot()
                for tc in root.iter("testcase"):
                    verdict = classify(tc)
                    counts[verdict] += 1
                    if verdict == "failed":
                        failures.append((case_name(tc), first_line(tc)))
            except (ET.ParseError, OSError) as e:
                notes.append(f"unreadable XML ({e})")
                counts["failed"] += 1
        rc = codes.get(name)
        if rc is not None and rc not in OK_EXIT.get(name, {0}):
            if path is None:
                notes.append(f"exited {rc} and wrote no XML (crashed?)")
                counts["failed"] += 1
            elif counts["failed"] == 0:
                notes.append(f"exited {rc} although no test failed (crash at exit?)")
                counts["failed"] += 1
        line = f"{name:<{width}}  {counts['passed']:4d} passed, {counts['failed']:3d} failed"
        if counts["skipped"]:
            line += f", {counts['skipped']} skipped"
        if notes:
            line += "  [" + "; ".join(notes) + "]"
        print(line)
        for n, msg in failures[:args.max_failures]:
            print(f"    FAILED {n}" + (f": {msg}" if msg else ""))
        if len(failures) > args.max_failures:
            print(f"    ... and {len(failures) - args.max_failures} more")
        for k in total:
            total[k] += counts[k]

    if not suites:
        print(f"no test results in {rdir}")
    last = f"{total['passed']} passed, {total['failed']} failed"
    if total["skipped"]:
        last += f", {total['skipped']} skipped"
    print(last)
    return 1 if total["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
