#!/usr/bin/env bats
# bats file_tags=quick
# spec 1: one table of settings (config.c) drives the parser, the
# defaults and --help; this file holds the README to that table (the man
# page and the sample config: deploy.bats), so a new setting cannot go
# undocumented.

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

@test "README's settings table names every setting (spec 1)" {
	local s missing=
	for s in $(settings); do
		grep -q "^| \`$s\`" "$TOP/README.md" || missing+=" $s"
	done
	[ -z "$missing" ] || { echo "not in README:$missing" >&2; return 1; }
}
