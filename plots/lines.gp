# lines.gp: GFLOP/s against one argument (batch size, matrix size), one line per variant, peers dashed,
# the measured FMA peak for this thread count as a grey ceiling.
# Extra variables: xlabel, vars (variants in this plot), peak (GFLOP/s, 0 = unknown), peak_isa,
# logy (1 when the values span more than 20x, e.g. naive next to SIMD; else a linear axis from 0).
load gpdir.'/common.gp'
set xlabel xlabel
set ylabel 'throughput [GFLOP/s]'
set format x '%g'
set format y '%g'
# sizes and batches are powers of two
set logscale x 2
# keep markers off the borders: tight autoscale plus a margin, not a decade that may end at a data point
set autoscale xfix
set autoscale yfix
if (logy) {
    set logscale y 10
    set offsets graph 0.04, graph 0.04, graph 0.05, graph 0.05
    # label 2x and 5x too: a tight range may hold a single decade
    do for [e=-4:6] {
        set ytics add (sprintf('%g', 2 * 10.0**e) 2 * 10.0**e, sprintf('%g', 5 * 10.0**e) 5 * 10.0**e)
    }
} else {
    set yrange [0:*]
    set offsets graph 0.04, graph 0.04, graph 0.05, 0
    # right axis: the same values as % of the measured peak (how-to-optimize-gemm's view; a linked axis
    # has to be linear in gnuplot)
    if (peak > 0) {
        set link y2 via y * 100 / peak inverse y * peak / 100
        set y2tics 0, 10 nomirror out
        set format y2 '%g%%'
        set y2label sprintf('%% of %s FMA peak (measured)', peak_isa)
    }
}
file(v) = datadir.'/'.stem.'__'.v.'.dat'
peak_plot = peak > 0 ? sprintf(", %g with lines lc rgb '#777777' dt 3 lw 1.5 title 'FMA peak %s, measured: %.0f GFLOP/s'", peak, peak_isa, peak) : ""
plot for [i=1:words(vars)] file(word(vars, i)) using 1:2 with linespoints lw 2 ps 1.1 \
     pt vpt(word(vars, i)) lc rgb vcol(word(vars, i)) dt vdt(word(vars, i)) title vtitle(word(vars, i)) \
     @peak_plot
eval to_svg
