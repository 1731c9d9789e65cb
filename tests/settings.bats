#!/usr/bin/env bats
# bats file_tags=quick
# spec 1: one table of settings (config.c) drives the parser, the
# defaults and --help; this file holds the settings table of doc/spec.md
# section 1 to that table (the man page and the sample config:
# deploy.bats), so a new setting cannot go undocumented.

load helpers/load

# settings: the names --help prints, one a line.
settings() {
	"$HANDLER" --help | sed -n 's/^  --\([a-z-]*\)=.*/\1/p'
}

@test "--help lists every setting with its default from the one table (spec 1)" {
	run settings
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -ge 26 ]
	run "$HANDLER" --help
	[[ "$output" == *'--timeout-auth=SECONDS'*'(default: 1800)'* ]]
	[[ "$output" == *'--plaintext-auth=tls|never|always'*'(default: tls)'* ]]
}

@test "every setting is accepted on the command line with its documented default (spec 1)" {
	local name def
	"$HANDLER" --help | sed -n '/^  --/{N;s/^  --\([a-z-]*\)=[^\n]*\n.*(default: \(.*\))$/\1 \2/p}' |
	    while read -r name def; do
		: >"$PASSWD"
		run "$HANDLER" --check-config --passwd-file="$PASSWD" \
		    --log=stderr "--$name=$def"
		[ "$status" -eq 0 ] || { echo "--$name=$def: $output" >&2; return 1; }
	done
}

# spec1_rows: the table rows of doc/spec.md section 1, up to section 2.
spec1_rows() {
	sed -n '/^## 1\. /,/^## 2\. /p' "$TOP/doc/spec.md" | grep '^| `'
}

@test "the settings table of doc/spec.md 1 has a row for every setting (spec 1)" {
	local s missing=
	spec1_rows >"$BATS_TEST_TMPDIR/rows"
	for s in $(settings); do
		grep -q "^| \`$s\` |" "$BATS_TEST_TMPDIR/rows" || missing+=" $s"
	done
	[ -z "$missing" ] ||
	    { echo "no row in doc/spec.md 1:$missing" >&2; return 1; }
}
