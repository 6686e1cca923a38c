/** One figure a bench reports: what `npm run bench` prints in its table and writes to bench/results/latest.json. */
export interface BenchFigure {
  name: string;
  value: number;
  unit: string;
  note?: string;
}
