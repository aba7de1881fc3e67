"""`make bench`: every benchmark in turn."""

from bench import stage, stream, zone_lookup

code = zone_lookup.main([])
code = code or stage.main([])
code = code or stream.main([])
raise SystemExit(code)
