# roofline.gp: each benchmark a point at (arithmetic intensity, GFLOP/s); colour = variant, symbol = op,
# open symbols = peers. Ceilings: the measured FMA peak of each ISA (horizontal) and the measured triad
# bandwidth (diagonal), for this thread count; a missing ceiling is simply not drawn.
# Extra variables: vars, ops, pairs (variant__op data files), ceil_isa, ceil_gf, bw (GB/s, 0 = unknown),
# xmin, xmax, ymin, ymax.
load gpdir.'/common.gp'
set logscale xy 10
set format x '%g'
set format y '%g'
set xrange [xmin:xmax]
set yrange [ymin:ymax]
set xlabel 'arithmetic intensity [FLOP/byte]'
set ylabel 'performance [GFLOP/s]'
set samples 4000

pv(p) = substr(p, 1, strstrt(p, '__') - 1)
po(p) = substr(p, strstrt(p, '__') + 2, strlen(p))
filled_ = "7 5 9 13 11 15 1 2 3"   # six filled/open pairs, then +, x, * (no open form)
opt(o) = int(word(filled_, (windex(ops, o) - 1) % words(filled_) + 1))
vopt(v, o) = ispeer(v) && opt(o) > 4 ? opt(o) - 1 : opt(o)   # gnuplot's open symbol is the filled one - 1
keypt(v) = ispeer(v) ? 6 : 7

ntop = words(ceil_gf)
ptop = ntop > 0 ? real(word(ceil_gf, 1)) : ymax
# horizontal roof of ISA i from its ridge point on; the diagonal up to the highest roof
roof(x, i) = (bw <= 0 || x * bw >= real(word(ceil_gf, i))) ? real(word(ceil_gf, i)) : 1/0
diag(x) = x * bw <= ptop ? x * bw : 1/0
roofdt(i) = i == 1 ? 1 : 4   # the top roof solid, lower ISAs dashed
# roofs are named on the right axis, where no data point can cover the text
if (ntop > 0) {
    set logscale y2 10
    set y2range [ymin:ymax]
    set y2tics () nomirror out scale 0.5 font ',10' tc rgb '#555555'
    do for [i=1:ntop] {
        set y2tics add (sprintf('%s peak %.4g', word(ceil_isa, i), real(word(ceil_gf, i))) real(word(ceil_gf, i)))
    }
}
if (ntop == 0 && bw <= 0) {
    set label 101 'no measured ceilings for this thread count in the context' at graph 0.02, graph 0.96 \
        font ',10' tc rgb '#555555'
}
roofs = ntop > 0 ? "for [i=1:ntop] roof(x, i) with lines lc rgb '#888888' lw 2 dt roofdt(i) notitle," : ""
diags = bw > 0 ? "diag(x) with lines lc rgb '#888888' lw 2 notitle," : ""
point(i) = datadir.'/'.stem.'__'.word(pairs, i).'.dat'
# the legend explains colour (variant) and symbol (op) separately
keys_v = "for [i=1:words(vars)] keyentry with points pt keypt(word(vars, i)) ps 1.4 lc rgb vcol(word(vars, i)) title vtitle(word(vars, i))"
keys_o = "for [i=1:words(ops)] keyentry with points pt opt(word(ops, i)) ps 1.3 lc rgb '#444444' title word(ops, i)"

# dry run: learn the plot area in terminal units to draw the bandwidth label parallel to its line
if (bw > 0) {
    set output '/dev/null'
    plot @diags keyentry title 'variant', @keys_v, keyentry title ' ', keyentry title 'op', @keys_o
    px_per_decade_x = (GPVAL_TERM_XMAX - GPVAL_TERM_XMIN) / log10(xmax / xmin)
    px_per_decade_y = (GPVAL_TERM_YMAX - GPVAL_TERM_YMIN) / log10(ymax / ymin)
    lx = (ymin * 4 / bw > xmin * 2) ? ymin * 4 / bw : xmin * 2
    set label 100 sprintf('triad %.3g GB/s', bw) at first lx, first lx * bw * 1.25 left \
        rotate by atan(px_per_decade_y / px_per_decade_x) * 180 / pi font ',10' tc rgb '#555555' front
}
set output outdir.'/'.stem.'.png'
plot @roofs @diags \
     for [i=1:words(pairs)] point(i) using 1:2 with points pt vopt(pv(word(pairs, i)), po(word(pairs, i))) ps 1.3 \
         lc rgb vcol(pv(word(pairs, i))) notitle, \
     keyentry title 'variant', @keys_v, keyentry title ' ', keyentry title 'op', @keys_o
eval to_svg
