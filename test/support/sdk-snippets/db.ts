// Test double for the `db` the product document's finalize-batch route handler
// writes to (an ORM in the real app): it keeps the rows in memory.
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
