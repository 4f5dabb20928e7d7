# fig4.gp - Fig. 4 (docs/paper.md §7.4): transfer within 4-S, is it the core or the readout? Panel A
# factorized, B Gaussian readout: direct training on held-out neurons, a core trained with few
# images and a readout with all (diff-core/best-readout), the best core and a readout with few
# images (best-core/diff-readout). Data: plot_fig4, plot_fig4_series, paper_fig4.csv.
fig_w = 11.0; fig_h = 5.0
load gpdir . '/style.gp'
eval begin_figure
if (rows('plot_fig4') <= 0) {
    eval nodata('Fig. 4: is it the core or the readout?', 'plot_fig4', 'no run of experiments fig4_* has finished')
    exit
}
V = 'plot_fig4'; S = 'plot_fig4_series'; P = 'paper_fig4'
paper_style = ''; top_label = '# images per readout'; paper_key = 'paper (digitised)'
key_pos = 'outside bottom center horizontal Left reverse maxrows 2'
# Points per panel (a panel can be empty while the other has data).
np1 = 0; np2 = 0
stats dat(V) using (column('panel_index') == 1 ? (np1 = np1 + 1) : (np2 = np2 + 1), 0) nooutput
if (multi) { set multiplot layout 1, 2 }
do for [pi = 1:2] {
    panel = pi
    paper_panel = pi == 1 ? 'factorized' : 'gaussian'
    panel_title = pi == 1 ? 'A: factorized readout' : 'B: Gaussian readout'
    if ((pi == 1 ? np1 : np2) == 0) {
        eval nodata(panel_title, 'plot_fig4 (panel '.paper_panel.')', 'no run of this panel has finished')
        unset label 1; unset label 2; unset label 3
        set border 3; set tics; set grid
    } else {
        load gpdir . '/curves.gp'
    }
}
if (multi) { unset multiplot }
