#!/bin/sh
# doc/tools/recite.sh: points the citations in code and tests at doc/.
#
#   doc/tools/recite.sh [--check] [--long] [TREE]
#   doc/tools/recite.sh --verify [TREE]
#
# Rewrites, in every tracked text file of TREE (default: the repository
# this script is in) except doc/, README.md, the fuzz corpus and
# tests/doc.bats (whose fixtures hold old forms on purpose):
#
#   1. each entry of doc/tools/issue-citations.txt (FILE<TAB>FROM<TAB>TO:
#      every literal FROM in FILE becomes TO), before anything else;
#   2. "SPEC <clause id>" (2.1.1, C0004, ...) -> the clause id alone;
#   3. "SPEC <n>" and "SPEC section <n>" -> "spec <n>" (doc/spec.md
#      section n), "STYLE <n>" -> "style <n>" (doc/style.md section n);
#      with --long, "doc/spec.md <n>" and "doc/style.md <n>" instead;
#      a path to SPEC.md or STYLE.md (../shared/SPEC.md) -> doc/spec.md,
#      doc/style.md;
#   4. "the SPEC clause" (pop3.h) -> "the spec section or clause".
#
# "SPEC" and "STYLE" are rewritten only as whole words followed by a
# blank and a section number, so UNSPEC and the like are left alone.
# The short forms keep every line's length; --long does not, so it is
# followed by a list of C lines over 80 columns.
#
# --verify changes nothing either: it checks that every citation of the
# new forms ("spec N", "style N", "doc/<file>.md N"), in code, tests and
# doc/ itself, names a section heading that exists, and exits 1 (listing
# the dangling ones) when one does not.
#
# --verbose lists the entries of issue-citations.txt whose text is not in
# the tree (citations of other branches, or already gone); otherwise only
# their number is printed.
#
# --check changes nothing and prints the diff it would apply.  Without
# it the files are rewritten in place (use git diff to review).  Either
# way it ends by listing what is left: SPEC, STYLE and issue citations
# it did not handle, and .c/.h lines it made longer than 80 columns.  Exit status: 0
# when nothing is left, 1 otherwise, 2 on a usage error.
set -eu

check=0
long=0
verify=0
verbose=0
tree=
for a in "$@"; do
	case $a in
	--check) check=1 ;;
	--long) long=1 ;;
	--verify) verify=1 ;;
	--verbose) verbose=1 ;;
	-*) echo "usage: $0 [--check] [--long] [--verify] [--verbose] [TREE]" >&2
	    exit 2 ;;
	*) tree=$a ;;
	esac
done
here=$(cd "$(dirname "$0")" && pwd)
[ -n "$tree" ] || tree=$(cd "$here/../.." && pwd)
list=$here/issue-citations.txt
[ -f "$list" ] || { echo "$0: missing $list" >&2; exit 2; }
cd "$tree"
status=0
git rev-parse --git-dir >/dev/null 2>&1 ||
    { echo "$0: $tree is not a git work tree" >&2; exit 2; }

# --verify: every "spec N", "style N" and "doc/<file>.md N" must name a
# heading "## N." / "### N." (or "## N " for style.md) of that file.
if [ $verify -eq 1 ]; then
	git grep -n -I -E '\b(spec|style) [0-9]|doc/[a-z]+\.md [0-9]' -- . \
	    ':!doc/tools' ':!fuzz/corpus' ':!*.dict' ':!tests/doc.bats' | perl -e '
		my %h;
		for my $f (qw(spec style design formats deploy)) {
			open(my $d, "<", "doc/$f.md") or next;
			while (<$d>) {
				$h{$f}{$1} = 1 if /^#{2,3} (\d+(?:\.\d+)*)[. ]/;
			}
		}
		my $bad = 0;
		my $num = qr/\d+(?:\.\d+)?/;
		while (my $l = <STDIN>) {
			my ($where, $text) = $l =~ /^([^:]+:\d+):(.*)$/ or next;
			my @refs;
			# "spec 1, 4.2, 9": every number of the list; a clause id
			# (2.1.1) or a word ends it.
			while ($text =~ /\b(spec|style) ($num(?:, $num)*)(?![.\d])/g) {
				my $f = $1;
				push @refs, [$f, $_] for split /, /, $2;
			}
			while ($text =~ m{\bdoc/([a-z]+)\.md ($num)(?![.\d])}g) {
				push @refs, [$1, $2];
			}
			for my $r (@refs) {
				my ($f, $n) = @$r;
				next if $h{$f}{$n};
				print "$where: $f $n: no such section in doc/$f.md\n";
				$bad = 1;
			}
		}
		exit $bad;
	' || status=1
	exit $status
fi

if [ $long -eq 1 ]; then
	spec='doc/spec.md' style='doc/style.md'
else
	spec='spec' style='style'
fi

# The files to look at: tracked text files that mention a citation.
files=$(git grep -I -l -E '\bSPEC\b|\bSTYLE\b|[Ii]ssues? [0-9]' \
    -- . ':!doc' ':!README.md' ':!fuzz/corpus' ':!*.dict' ':!tests/doc.bats' || true)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# C lines over 80 columns (tabs at 8) as "FILE:LINE LENGTH", to report
# only the ones a rewrite makes longer (rewrites never add lines).
wide_lines() {
	for c in $(git ls-files '*.c' '*.h'); do
		expand -t 8 "$c" |
		    awk -v f="$c" 'length($0) > 80 { print f ":" NR, length($0) }'
	done
}
wide_lines >"$tmp/wide-before"

for f in $files; do
	[ -f "$f" ] || continue
	# 1. The issue entries of this file, in the order listed.
	if ! LIST=$list FILE=$f perl -e '
		open(my $l, "<", $ENV{LIST}) or die "$ENV{LIST}: $!\n";
		my @e;
		while (<$l>) {
			chomp;
			next if /^#/ || /^\s*$/;
			my ($file, $from, $to) = split /\t/, $_, 3;
			die "bad line $.: $_\n" unless defined $to;
			push @e, [$from, $to] if $file eq $ENV{FILE};
		}
		local $/;
		open(my $in, "<", $ENV{FILE}) or die "$ENV{FILE}: $!\n";
		my $s = <$in>;
		for my $e (@e) {
			my ($from, $to) = @$e;
			$s =~ s/\Q$from\E/$to/g or
			    warn "$ENV{FILE}: not found: $from\n";
		}
		print $s;
	' >"$tmp/a" 2>>"$tmp/notfound"; then
		cat "$tmp/notfound" >&2
		exit 2
	fi
	# 2-4. The SPEC and STYLE citations.
	# The blanks after SPEC may hold a line break and a comment leader
	# ("SPEC\n * 4.1"); a clause id keeps the line break, drops the word.
	SPECW=$spec STYLEW=$style perl -0777 -pe '
		my $gap = qr/(?:[ \t]+|[ \t]*\n[ \t]*(?:[*#][ \t]+)?)/;
		s{(?:\.\./)?(?:shared/)?\bSPEC\.md\b}{doc/spec.md}g;
		s{(?:\.\./)?(?:shared/)?\bSTYLE\.md\b}{doc/style.md}g;
		s/([ \t]*)\bSPEC($gap)((?:\d+\.\d+\.\d+|[CVE]\d{4})\b)/
		    my ($b, $g, $c) = ($1, $2, $3);
		    $g =~ m{\n} ? "\n" . ($g =~ s{^[ \t]*\n}{}r) . $c : $b . $c/ge;
		s/\bSPEC($gap)(?:sections?($gap))?(?=\d)/$ENV{SPECW}$1/g;
		s/\bSTYLE($gap)(?:sections?($gap))?(?=\d)/$ENV{STYLEW}$1/g;
		s/\bthe SPEC clause\b/the $ENV{SPECW} section or clause/g;
	' "$tmp/a" >"$tmp/b"
	if cmp -s "$f" "$tmp/b"; then
		continue
	fi
	if [ $check -eq 1 ]; then
		diff -u --label "a/$f" --label "b/$f" "$f" "$tmp/b" || true
	else
		# Keep the file's mode and inode: write over it.
		cat "$tmp/b" >"$f"
	fi
done

# Entries for text no longer (or not yet) in the tree: other branches'.
if [ -s "$tmp/notfound" ]; then
	if [ $verbose -eq 1 ]; then
		sed 's/^/recite: /' "$tmp/notfound" >&2
	else
		echo "recite: $(wc -l <"$tmp/notfound") entries of" \
		    "issue-citations.txt not in this tree (--verbose lists them)" >&2
	fi
fi

# What is left (on the rewritten tree, or as it would be with --check).
left() {
	git grep -n -I -E "$1" -- . ':!doc' ':!README.md' ':!fuzz/corpus' \
	    ':!*.dict' ':!tests/doc.bats' || true
}
if [ $check -eq 0 ]; then
	rest=$(left '\bSPEC\b|\bSTYLE\b|[Ii]ssues? [0-9]')
	if [ -n "$rest" ]; then
		echo "recite: citations left to point at doc/ by hand:"
		echo "$rest"
		status=1
	fi
	wide=$(wide_lines | awk 'NR == FNR { was[$1] = $2; next }
	    !($1 in was) || $2 > was[$1] { print $1 ": " $2 " columns" }' \
	    "$tmp/wide-before" - || true)
	if [ -n "$wide" ]; then
		echo "recite: C lines the rewrite made longer than 80 columns:"
		echo "$wide"
		status=1
	fi
fi
exit $status
