#!/usr/bin/perl
# doc_paths.pl - report the repository paths a text names that do not exist (tests/test_doc_paths.sh).
#
#   perl tests/doc_paths.pl ROOT LIST
#
# ROOT is the repository; LIST is a file of lines "LABEL<TAB>TEXT<TAB>DIR": LABEL names the text in
# messages (a repository path, or "nsid-train --help"), TEXT is the file to read, DIR is the folder,
# relative to ROOT, that the text's relative references start from ("." for help output).
# Prints "LABEL:LINE: 'PATH' REASON" for every broken reference and exits 1 if there was one.
#
# What counts as a path (chosen so that prose, code and the authors' repository paths are not read
# as ours):
#   1. a name that starts with one of the repository's top-level folders and a slash (docs/data.md,
#      src/exp/spec.c, tests/fixtures/), not preceded by a letter, digit, '.', '/', '$' or '%'
#      (so /usr/src/x, $T/results/x and neuralpredictors/data/x are not ours); it is read from ROOT.
#      A placeholder (<id>, *, {a,b}, $VAR) ends the literal part: the folder before it must exist.
#   2. a reference that starts with ../ : read from DIR; it must stay inside the repository, and in
#      a Markdown page it must exist as well (in code the working directory decides what it means).
#   3. a bare Markdown name (README.md, config.md): it must exist in DIR, ROOT or docs/, or be the
#      name of a generated file that some text names with its folder (results/REPORT.md).
#   4. an absolute path into the development machine's work area (the /work folder).
# A path that does not exist is still fine when git ignores it: generated outputs (results/,
# plots/data/, build/) are named legitimately before they exist.
use strict;
use warnings;

my ($root, $list) = @ARGV;
die "usage: doc_paths.pl ROOT LIST\n" unless defined $list;

# The top-level folders: what the repository tracks, plus the generated ones its docs name.
my %top;
for (split /\n/, `git -C '$root' ls-files -co --exclude-standard`) {
    $top{$1} = 1 if m{^([^/]+)/};
}
$top{$_} = 1 for qw(build data);
my $tops = join '|', map { quotemeta } sort keys %top;

my @texts;
open my $lf, '<', $list or die "$list: $!\n";
while (<$lf>) {
    chomp;
    my ($label, $file, $dir) = split /\t/;
    push @texts, [$label, $file, $dir];
}
close $lf;

# Normalise "a/b/../c" to "a/c"; undef when it climbs out of the repository.
sub norm {
    my ($p) = @_;
    my @out;
    for my $c (split m{/+}, $p) {
        next if $c eq '' || $c eq '.';
        if ($c eq '..') { return undef unless @out; pop @out; next; }
        push @out, $c;
    }
    return join '/', @out;
}

my %ignored_cache;
sub ignored {
    my ($p) = @_;
    return $ignored_cache{$p} //= do {
        my $q = $p; $q =~ s/'/'\\''/g;
        system("git -C '$root' check-ignore -q -- '$q' >/dev/null 2>&1") == 0 ? 1 : 0;
    };
}
# A path exists, or names a module by its stem (pipeline/nsid-convert for nsid-convert.c), or is
# ignored by git as a file or as a folder.
sub exists_or_generated {
    my ($p) = @_;
    return 1 if $p eq '' || -e "$root/$p";
    my @stem = glob("'$root/$p'.*");   # list context: a scalar glob iterates across calls
    return 1 if @stem;
    (my $base = $p) =~ s/\.tmp$//;     # the temporary of a generated file is generated
    return ignored($base) || ignored("$base/");
}

# Pass 1: collect the references; generated files named with their folder give the bare names
# that rule 3 accepts.
my (@refs, %generated);
for my $t (@texts) {
    my ($label, $file, $dir) = @$t;
    open my $fh, '<', $file or die "$file: $!\n";
    my $n = 0;
    while (my $line = <$fh>) {
        $n++;
        while ($line =~ m#(?<![\w./\$%-])((?:$tops)/(?:[\w.+\-/*<>\$]|\{[^}\s]*\})*)#g) {
            push @refs, [$label, $n, 'top', $1, $dir, $file];
        }
        while ($line =~ m#(?<![\w./\$-])((?:\.\./)+[\w.+\-/]*)#g) {
            push @refs, [$label, $n, 'up', $1, $dir, $file];
        }
        while ($line =~ m#(?<![\w./\$%-])([\w-]+\.md)(?![\w/-])#g) {
            push @refs, [$label, $n, 'md', $1, $dir, $file];
        }
        while ($line =~ m#(?<![\w.\$-])(/wor[k]/[\w.+\-/]*)#g) {
            push @refs, [$label, $n, 'abs', $1, $dir, $file];
        }
    }
    close $fh;
}
for my $r (@refs) {
    next unless $r->[2] eq 'top';
    (my $p = $r->[3]) =~ s/[.,:;]+$//;
    next if $p =~ /[<>{}*\$]/ || -e "$root/$p";
    $generated{$1} = 1 if $p =~ m{([^/]+\.md)$} && ignored($p);
}

my $bad = 0;
sub report {
    my ($r, $path, $why) = @_;
    print "$r->[0]:$r->[1]: '$path' $why\n";
    $bad++;
}
for my $r (@refs) {
    my ($label, $n, $kind, $tok, $dir, $file) = @$r;
    (my $p = $tok) =~ s/[.,:;]+$//;
    if ($kind eq 'top') {
        my $lit = $p;
        # A pattern (<id>, *, {a,b}, $VAR, or a capitalised name such as NAME.gp): its literal
        # folder must exist.
        if ($lit =~ /[<>{}*\$]/ || $lit =~ m{(^|/)[A-Z][A-Z_]+(\.(?!md$)[a-z]+)?$}) {
            $lit =~ s/[<>{}*\$].*//;
            $lit =~ s{[^/]*$}{};
        }
        my $q = norm($lit);
        report($r, $p, 'names a path that is not in the repository')
            unless defined $q && exists_or_generated($q);
    } elsif ($kind eq 'up') {
        my $q = norm("$dir/$p");
        if (!defined $q) {
            report($r, $p, "points outside the repository (from $dir/)");
        } elsif ($file =~ /\.md$/ && !exists_or_generated($q)) {
            report($r, $p, "names $q, which is not in the repository");
        }
    } elsif ($kind eq 'md') {
        my $ok = $generated{$p};
        for my $base ($dir, '.', 'docs') {
            my $q = norm("$base/$p");
            $ok ||= defined $q && -e "$root/$q";
        }
        report($r, $p, 'is not a page of the repository (nor a generated file named elsewhere)')
            unless $ok;
    } else {
        report($r, $p, 'is a path on the development machine, not in the repository');
    }
}
exit($bad > 0 ? 1 : 0);
