# fig1.gp - Fig. 1 (docs/paper.md §7.1, 5.2): the datasets as a matrix of neuron sets (rows: the
# matched neurons of one animal, or one scan) by image sets (columns); a scan is a cell,
# coloured by each group it belongs to (one stripe per group).
# Data: plot_fig1_cells, plot_fig1_rows, plot_fig1_cols, plot_fig1_groups (plots/views.sql).
fig_w = 9.0; fig_h = 4.8
load gpdir . '/style.gp'
eval begin_figure
if (rows('plot_fig1_cells') <= 0) {
    eval nodata('Fig. 1: the datasets', 'plot_fig1_cells', 'the plan recorded no dataset groups (run nsid-plan)')
    exit
}
n_rows = rows('plot_fig1_rows'); n_cols = rows('plot_fig1_cols')
# Tick labels from the label views: neuron sets on y (first row on top), image sets on x.
yt = ''; xt = ''
stats dat('plot_fig1_rows') using (yt = yt . sprintf('%s"%s" %d', strlen(yt) ? ', ' : '', strcol('label'), column('row_index')), 0) nooutput
stats dat('plot_fig1_cols') using (xt = xt . sprintf('%s"%s" %d', strlen(xt) ? ', ' : '', strcol('label'), column('col_index')), 0) nooutput
# Legend: the groups present, with their number of scans.
el = ''
add(e) = (el = el . (strlen(el) > 0 ? ', ' : '') . e, 0)
stats dat('plot_fig1_groups') using (fmt ne 'table' ? \
    add(sprintf("keyentry with boxes fs solid 0.85 fc rgb %d title \"%s (%d scan%s)\"", group_color(strcol('grp')), \
                strcol('label'), column('n_scans'), column('n_scans') == 1 ? '' : 's')) : 0, 0) nooutput
eval 'set ytics (' . yt . ') scale 0 tc rgb "#000000"'
eval 'set xtics (' . xt . ') scale 0 tc rgb "#000000"'
set xrange [0.5 : n_cols + 0.5]
set yrange [n_rows + 0.5 : 0.5]
unset grid
set border 0 lc rgb '#ffffff'   # (zero-length tic marks would still show as dots)
set xlabel 'image set'
set ylabel 'neuron set'
set title 'Fig. 1: the datasets (neuron sets × image sets)'
set key outside right center vertical Left reverse samplen 1.2
cell_x(z) = column('col_index') - 0.42 + 0.84 * (column('stripe') - 0.5) / column('stripes')
cells = "dat('plot_fig1_cells') using (cell_x(0)):'row_index':(0.42 / column('stripes')):(0.4):(group_color(strcol('grp')))" . \
        " with boxxyerror fs solid 0.85 border lc rgb '#ffffff' lc rgb variable title (fmt eq 'table' ? 'cells' : '')"
eval 'plot ' . cells . (strlen(el) > 0 ? ', ' . el : '')
