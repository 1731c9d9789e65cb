#!/usr/bin/env bats
# bats file_tags=quick
# doc/ is the reference that comments and test names cite (style 3.7,
# doc/README.md): its section numbers stay put, every citation of the
# forms "spec N", "style N" and "doc/<file>.md N" names a section that
# exists, and doc/tools/recite.sh rewrites the old forms mechanically.

ROOT=$BATS_TEST_DIRNAME/..

setup() {
	# recite.sh works on git's list of files.
	command -v git >/dev/null || skip "git is not installed"
}

# A scratch git tree with doc/ and one file f.c holding $1.
scratch() {
	S=$BATS_TEST_TMPDIR/tree
	mkdir -p "$S/doc/tools"
	cp "$ROOT"/doc/*.md "$S/doc/"
	cp "$ROOT"/doc/tools/recite.sh "$S/doc/tools/"
	: >"$S/doc/tools/issue-citations.txt"
	printf '%s\n' "$1" >"$S/f.c"
	git -C "$S" init -q
	git -C "$S" add -A
}

@test "every spec, style and doc/ citation in the tree names an existing section (style 3.7)" {
	git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1 ||
	    skip "not a git checkout"
	run "$ROOT/doc/tools/recite.sh" --verify "$ROOT"
	echo "$output" >&2
	[ "$status" -eq 0 ]
}

@test "doc/spec.md keeps sections 1 to 10 with 4.1 to 4.3, doc/style.md 3.1 to 3.12 (style 3.7)" {
	heads='print "$1 " if /^#{2,3} (\d+(?:\.\d+)*)[. ]/'
	got=$(perl -ne "$heads" "$ROOT/doc/spec.md")
	echo "spec.md: $got" >&2
	[ "$got" = '1 2 3 4 4.1 4.2 4.3 5 6 7 8 9 10 ' ]
	got=$(perl -ne "$heads" "$ROOT/doc/style.md")
	echo "style.md: $got" >&2
	[ "$got" = '3.1 3.2 3.3 3.4 3.5 3.6 3.7 3.8 3.9 3.10 3.11 3.12 ' ]
}

@test "recite.sh rewrites SPEC and STYLE citations, clause ids alone, and leaves UNSPEC alone (style 3.7)" {
	scratch $'/* SPEC 4, 9; STYLE 3.8; SPEC 2.1.1; SPEC C0004; UNSPEC; SPEC section 6; ../shared/SPEC.md */\n/*\n * split (RFC 4752, SPEC\n * 4.1) and SPEC\n * C0004.\n */'
	run "$S/doc/tools/recite.sh" "$S"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	printf '%s\n' '/* spec 4, 9; style 3.8; 2.1.1; C0004; UNSPEC; spec 6; doc/spec.md */' \
	    '/*' ' * split (RFC 4752, spec' ' * 4.1) and' ' * C0004.' ' */' \
	    >"$BATS_TEST_TMPDIR/want"
	diff "$BATS_TEST_TMPDIR/want" "$S/f.c"
}

@test "recite.sh applies issue-citations.txt and reports an issue citation it has no entry for (style 3.7)" {
	scratch '/* Readahead (issue 6).  Also issue 9. */'
	printf 'f.c\t(issue 6)\t(doc/design.md 6)\n' \
	    >"$S/doc/tools/issue-citations.txt"
	run "$S/doc/tools/recite.sh" "$S"
	echo "$output" >&2
	[ "$status" -eq 1 ]
	grep -q '^f.c:1:.*issue 9' <<<"$output"
	grep -qF '/* Readahead (doc/design.md 6).  Also issue 9. */' "$S/f.c"
}

@test "recite.sh --verify names a citation of a section that does not exist (style 3.7)" {
	scratch '/* spec 4.2, spec 11, style 3.13, doc/design.md 4, doc/formats.md 9 */'
	run "$S/doc/tools/recite.sh" --verify "$S"
	echo "$output" >&2
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 3 ]
	grep -q '^f.c:1: spec 11: no such section' <<<"$output"
	grep -q '^f.c:1: style 3.13: no such section' <<<"$output"
	grep -q '^f.c:1: formats 9: no such section' <<<"$output"
}
