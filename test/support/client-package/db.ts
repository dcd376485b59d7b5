// The app database the product document's finalize-batch route writes to (an ORM in a
// real app): rows kept in memory. Compiled with the route in the client package tests.
export interface BatchResultRow {
  batchId: string;
  stats: { total: number; successful: number; failed: number; totalProcessed: number };
  results: { stepId: string; [key: string]: unknown }[];
  completedAt: Date;
}

export const db = {
  batchResults: {
    rows: [] as BatchResultRow[],
    async create(args: { data: BatchResultRow }): Promise<BatchResultRow> {
      this.rows.push(args.data);
      return args.data;
    },
  },
};
