# logtics.gp - tick labels of a log axis of image counts: 1, 2, 5 per decade when the range
# spans at most ~2.6 decades, else the powers of ten (as plain numbers, like the paper).
#     call gpdir . '/logtics.gp' 'x' lo hi [format]   (axis x, x2, y2; lo, hi the axis range;
#                                                      format of the labels, default '%.0f')
lt_axis = ARG1; lt_lo = real(ARG2); lt_hi = real(ARG3); lt_fmt = ARGC >= 4 ? ARG4 : '%.0f'
lt_mult = log10(lt_hi / lt_lo) <= 2.6 ? '1 2 5' : '1'
eval sprintf("set %stics ()", lt_axis)
eval sprintf("set m%stics 10", lt_axis)
do for [lt_d = floor(log10(lt_lo)):ceil(log10(lt_hi))] {
    do for [lt_m in lt_mult] {
        lt_v = real(lt_m) * 10.0**lt_d
        if (lt_v >= lt_lo && lt_v <= lt_hi) {
            eval sprintf("set %stics add ('%s' %.17g)", lt_axis, sprintf(lt_fmt, lt_v), lt_v)
        }
    }
}
