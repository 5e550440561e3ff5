#!/usr/bin/env python3
"""Adds the index tansu 0.6's sqlite engine lacks, to a running broker's database.

tansu stores record headers in a `header` table without an index on the record they belong
to, so fetching one record scans every header ever written: each fetch costs O(all headers),
and a consumer of CloudEvents (a dozen `ce_*` headers per record) slows the broker down until
group heartbeats time out after a few thousand records. The processor's kill test fails that
way without this index. tansu creates its tables with IF NOT EXISTS and leaves extra indexes
alone, so adding one after it started is safe.

Usage: tansu-tune.py PATH/TO/tansu.db   (waits up to 30 s for tansu to create its tables)
"""

import sqlite3
import sys
import time

INDEX = "CREATE INDEX IF NOT EXISTS switchyard_header_record ON header (topition, offset_id)"


def main(path: str) -> int:
    deadline = time.monotonic() + 30
    while True:
        try:
            with sqlite3.connect(path, timeout=30) as db:
                db.execute(INDEX)
            return 0
        except sqlite3.OperationalError as error:
            # "no such table": tansu has not created its schema yet.
            if time.monotonic() > deadline:
                print(f"tansu-tune: {path}: {error}", file=sys.stderr)
                return 1
            time.sleep(0.1)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
