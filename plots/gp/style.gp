# style.gp - the one style of every nsid figure: fonts, sizes, colours, line styles, the
# terminal for each output format, and the helpers the figure scripts share.
#
# A figure script is run by plots/figures.sh as
#     gnuplot -e "gpdir='plots/gp'; data='plots/data'; fmt='png'; outfile='plots/fig3.png.tmp'" fig3.gp
# fmt is png | svg | pdf | table (table: gnuplot's `set table` text of every plotted point,
# which tests/test_figures.sh counts per series). Data comes only from the views exported by
# `nsid-db export VIEW --csv` and converted by csv2dat.awk into data/VIEW.dat.
#
# In a figure script:
#     fig_w = 6.4; fig_h = 4.4            # inches (PNG: x png_dpi pixels)
#     load gpdir.'/style.gp'
#     eval begin_figure                   # terminal and output file of fmt
#     if (rows('plot_fig3') == 0) { eval nodata('Fig. 3', 'plot_fig3', 'no run of experiment fig3 has finished'); exit }

# ---- fonts and sizes -------------------------------------------------------------------------------
font_name = 'DejaVu Sans'
font_pt = 10.0                # points, in every format
png_dpi = 150                 # PNG pixels per inch
lw_data = 2.0                 # our curves
lw_paper = 1.2                # the paper's digitised curves (faint)
lw_ref = 1.0                  # identity lines, grids
pt_data = 7                   # filled circle
ps_data = 0.8
pt_paper = 6                  # open circle
ps_paper = 0.5
band_alpha = 0.18             # error bands (95% interval across seeds)
paper_alpha = 0x9A            # the paper's curves: ARGB transparency (0 opaque, 255 invisible)

if (!exists('fig_w')) fig_w = 6.4
if (!exists('fig_h')) fig_h = 4.4
if (!exists('fmt')) fmt = 'png'
if (!exists('data')) data = 'plots/data'
if (!exists('outfile')) outfile = 'figure.'.fmt

# ---- colours ---------------------------------------------------------------------------------------
# Dataset groups, as the paper's Fig. 1 (docs/paper.md §7.1); Fig. 5's cores share the group colours.
c_green = 0x2ca02c; c_blue = 0x1f77b4; c_purple = 0x9467bd; c_orange = 0xff7f0e; c_red = 0xd62728
c_black = 0x222222; c_brown = 0x8c564b; c_pink = 0xe377c2; c_grey = 0x7f7f7f; c_olive = 0xbcbd22
c_cyan = 0x17becf; c_lightorange = 0xffbb78; c_lightgrey = 0xb0b0b0; c_teal = 0x008080

group_color(g) = g eq '4s_matched' ? c_green : g eq 'evaluation' ? c_blue : g eq '1s' ? c_purple : \
                 g eq '11s' ? c_orange : g eq '4s_diff_animals' ? c_red : c_grey

# Curves by name, the same colour in every figure; unknown names cycle through spare colours.
spare_color(i) = (int(i) % 5 == 0) ? c_cyan : (int(i) % 5 == 1) ? c_olive : (int(i) % 5 == 2) ? c_brown : \
                  (int(i) % 5 == 3) ? c_pink : c_grey
curve_color(name, i) = \
    name eq 'Gaussian w/ f-s' ? c_blue : name eq 'Gaussian w/o f-s' ? c_cyan : \
    name eq 'Factorized w/o f-s' ? c_red : name eq 'Factorized w/ f-s' ? c_orange : \
    name eq 'cortex + f-s' ? c_blue : name eq 'no-cortex + f-s' ? c_green : \
    name eq 'cortex, no f-s' ? c_orange : name eq 'neither' ? c_red : \
    name eq 'direct' ? c_black : name eq 'diff-core/best-readout' ? c_purple : \
    name eq 'best-core/diff-readout' ? c_green : \
    name eq '11-S' ? c_orange : name eq '11-S: no cortex' ? c_lightorange : name eq '4-S: matched' ? c_green : \
    name eq '4-S: diff animals' ? c_red : name eq '1-S' ? c_purple : name eq 'VGG16' ? c_teal : \
    name eq 'random VGG16' ? c_pink : name eq 'random core 128' ? c_brown : name eq 'random core 64' ? c_olive : \
    spare_color(i)
# Animals in the simulated-data figures: a categorical palette by index (1..; 0 below 1).
array animal_palette[10] = [2062260, 16744206, 2924588, 14034728, 9725885, 9197131, 14907330, 8355711, 12369186, \
                            1556175]
animal_color(i) = 1 + int(i - 1) % 10 >= 1 ? animal_palette[1 + int(i - 1) % 10] : 0
# Dash patterns by curve name where the paper distinguishes curves of one colour family.
curve_dash(name) = name eq '11-S: no cortex' ? 2 : name eq 'random core 64' ? 3 : 1
# Point types by curve index (1..): different shapes, mostly open, so curves that coincide
# stay visible (filled circle, open square, triangle, diamond, inverted triangle, circle, ...; 0 below 1).
array curve_pts[10] = [7, 4, 8, 12, 10, 6, 14, 2, 1, 3]
curve_pt(i) = 1 + int(i - 1) % 10 >= 1 ? curve_pts[1 + int(i - 1) % 10] : 0
# Dash patterns by style index (1 = the most neurons: solid).
style_dash(i) = i <= 1 ? 1 : i == 2 ? 2 : i == 3 ? 3 : 4
set dashtype 2 (7, 4)
set dashtype 3 (1.5, 3)
set dashtype 4 (7, 3, 1.5, 3)
# An ARGB colour with the paper's transparency.
faint(c) = c + paper_alpha * 2**24

# ---- terminal and output ---------------------------------------------------------------------------
font_spec = sprintf("%s,%g", font_name, font_pt)
term_png = sprintf("set terminal pngcairo size %d,%d noenhanced font '%s' fontscale %g linewidth %g rounded background '#ffffff'", \
                   fig_w * png_dpi, fig_h * png_dpi, font_spec, png_dpi / 96.0, png_dpi / 96.0)
term_svg = sprintf("set terminal svg size %d,%d dynamic noenhanced font '%s' linewidth 1 rounded background '#ffffff'", \
                   fig_w * 96, fig_h * 96, font_spec)
term_pdf = sprintf("set terminal pdfcairo size %gin,%gin noenhanced font '%s' linewidth 1 rounded", fig_w, fig_h, font_spec)
begin_figure = fmt eq 'table' ? sprintf("set table '%s'", outfile) : \
               (fmt eq 'png' ? term_png : fmt eq 'svg' ? term_svg : term_pdf) . sprintf("; set output '%s'", outfile)
multi = fmt ne 'table'        # draw multi-panel figures with multiplot (not in table mode)

set encoding utf8
set datafile missing '?'
set datafile columnheaders   # the first row of every data file names the columns
set border 3 lw lw_ref
set tics nomirror out scale 0.6
set grid back lc rgb '#e6e6e6' lw lw_ref
set key noautotitle
set key spacing 1.15 samplen 2.5 noopaque
set style fill transparent solid band_alpha noborder

# ---- data helpers -----------------------------------------------------------------------------------
dat(view) = sprintf("%s/%s.dat", data, view)
# Data rows of an exported view (-1 if the file is missing).
rows(view) = int(system(sprintf("if [ -f '%s' ]; then awk 'END { print NR - 1 }' '%s'; else echo -1; fi", dat(view), dat(view))))

# The "no data" figure: the title and a note in the middle, no axes (table mode: a comment).
nodata(what, view, why) = fmt eq 'table' ? \
    sprintf("unset table; set print '%s' append; print '# no data for %s (view %s has no rows)'; unset print", outfile, what, view) : \
    sprintf("unset border; unset tics; unset grid; unset key; unset xlabel; unset ylabel; unset x2label; unset title; unset logscale; " . \
    "set xrange [0:1]; set yrange [0:1]; " . \
    "set label 1 \"%s\" at graph 0.5, 0.62 center font ',%g'; " . \
    "set label 2 \"no data yet: view %s has no rows\" at graph 0.5, 0.48 center; " . \
    "set label 3 \"%s\" at graph 0.5, 0.38 center tc rgb '#666666'; plot 2 notitle", what, font_pt * 1.4, view, why)

# Log axis of image counts: plain numbers, minor tics per decade.
log_images = "set logscale x 10; set format x '%.0f'; set mxtics 10"
