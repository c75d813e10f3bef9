chart.js 4.6.1
