
set terminal pngcairo size 1200,600 noenhanced
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -30
set grid ytics
set key top right

set output 'throughput.png'
set title 'executions/s: engine vs ceiling (same run)'
set ylabel 'executions/s'
set logscale y
plot 'throughput.dat' using 2:xtic(1) title 'engine', '' using 3 title 'ceiling'

set output 'latency.png'
set title 'latency (ms): enqueue -> start and enqueue -> finish'
set ylabel 'ms'
plot 'latency.dat' using 2:xtic(1) title 'start p50', '' using 3 title 'start p90', \
     '' using 4 title 'start p99', '' using 5 title 'finish p50', \
     '' using 6 title 'finish p90', '' using 7 title 'finish p99'

set output 'sustained.png'
unset logscale y
set style data linespoints
set title 'sustained runs: executions/s per interval'
set xlabel 'seconds since the first enqueue'
set ylabel 'executions/s'
set yrange [0:*]
plot 'sustained-0.dat' using 1:2 title 'simple/postgres/1 2026-12-08T00:10:06Z', 'sustained-1.dat' using 1:2 title 'simple/postgres/1 2026-12-08T00:23:05Z', 'sustained-2.dat' using 1:2 title 'simple/postgres/1 2026-12-08T01:10:56Z'
