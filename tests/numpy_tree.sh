# numpy_tree.sh - write a scan as a file tree the way numpy leaves one (sourced by tests, not a test):
#
#   numpy_tree SRC_TREE DST_TREE
#
# copies the file tree SRC_TREE (nsid-convert's output: C-order .npy files, numpy str '<U' tiers)
# to DST_TREE as a lab's own numpy code would have written it: every array of two or more
# dimensions in Fortran order ('fortran_order': True, the elements column-major, as np.save writes
# an np.asfortranarray), the tiers and other strings as numpy unicode '<U', no
# meta/trials/frame_image_class (optional in neuralpredictors' trees) and no ground_truth (a
# recording has none). The .npy files are rewritten byte by byte with perl (Debian's perl-base is
# always installed; CI has no numpy): format 1.0 headers padded to 64 bytes, as numpy pads them.
# Prints the number of arrays it turned into Fortran order.
numpy_tree() {
    local src=$1 dst=$2
    rm -rf "$dst"
    cp -r "$src" "$dst"
    rm -rf "$dst/meta/ground_truth" "$dst/meta/statistics/ground_truth" "$dst/meta/trials/frame_image_class.npy"
    find "$dst" -name '*.npy' -print0 | perl -0 -e '
        use strict; use warnings;
        my $n = 0;
        while (my $path = <STDIN>) {
            chomp $path;
            open(my $fh, "<:raw", $path) or die "$path: $!";
            local $/; my $raw = <$fh>; close $fh;
            substr($raw, 0, 6) eq "\x93NUMPY" or die "$path: not a .npy file";
            my $major = ord(substr($raw, 6, 1));
            my ($hlen, $hstart) = $major == 1 ? (unpack("v", substr($raw, 8, 2)), 10)
                                              : (unpack("V", substr($raw, 8, 4)), 12);
            my $dict = substr($raw, $hstart, $hlen);
            my $data = substr($raw, $hstart + $hlen);
            my ($descr) = $dict =~ /.descr.: *.([^\x27"]+)./ or die "$path: no descr";
            my ($shape) = $dict =~ /.shape.: *\(([^)]*)\)/ or die "$path: no shape";
            my @d = grep { length } map { s/\s//gr } split /,/, $shape;
            next if $dict =~ /.fortran_order.: *True/ || @d < 2;
            my ($kind, $w) = $descr =~ /^[<>|=]?([a-zA-Z])(\d+)$/ or die "$path: descr $descr";
            my $size = $kind eq "U" ? 4 * $w : $w;
            my $count = 1; $count *= $_ for @d;
            length($data) == $count * $size or die "$path: ", length($data), " data bytes for $count x $size";
            # C order: the last index moves fastest; Fortran order: the first.
            my @fstride = (1); push @fstride, $fstride[-1] * $d[$_ - 1] for 1 .. $#d;
            my @idx = (0) x @d;
            my @out;
            for my $c (0 .. $count - 1) {
                my $f = 0; $f += $idx[$_] * $fstride[$_] for 0 .. $#d;
                $out[$f] = substr($data, $c * $size, $size);
                for (my $k = $#d; $k >= 0; $k--) { last if ++$idx[$k] < $d[$k]; $idx[$k] = 0; }
            }
            my $h = sprintf("{\x27descr\x27: \x27%s\x27, \x27fortran_order\x27: True, \x27shape\x27: (%s), }", $descr,
                            join(", ", @d));
            my $pad = 64 - (10 + length($h) + 1) % 64; $pad = 0 if $pad == 64;
            $h .= " " x $pad . "\n";
            open(my $oh, ">:raw", $path) or die "$path: $!";
            print $oh "\x93NUMPY\x01\x00", pack("v", length $h), $h, join("", @out);
            close $oh or die "$path: $!";
            $n++;
        }
        print "$n\n";'
}
