// Stand-in for Next.js's 'next/server' in the client package tests (installed as
// node_modules/next of the test project): a NextRequest is a Fetch Request.
export class NextRequest extends Request {}
