// The floor of bench/pages.ts: a plain Node HTTP server that answers the same two pages with the `pg`
// driver and JSON.stringify, nothing else (no GraphQL, no ORM, no auth, no limits). It serves on PORT and
// prints "serving GraphQL at <url>" as the server does, so the benchmark starts both alike.
//   POST {"page":"sidebar","userId":"…"}          20 conversations by updatedAt, with their counts, preview and first 5 messages
//   POST {"page":"branch","conversationId":"…"}  the last 50 messages of a conversation, oldest first
//   POST {"page":"typename"}                      no rows: what a request costs by itself
import http from 'node:http';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });

const SIDEBAR = `
  SELECT c."id", c."title", c."messageCount", c."preview", c."lastMessageAt",
    (SELECT coalesce(json_agg(json_build_object('id', m."id", 'position', m."position", 'role', m."role", 'content', m."content") ORDER BY m."position"), '[]')
       FROM (SELECT * FROM "Message" m WHERE m."conversationId" = c."id" ORDER BY m."position" LIMIT 5) m) AS "messages"
  FROM "Conversation" c
  WHERE c."orgId" = '' AND c."userId" = $1 AND c."status" = 'ACTIVE'
  ORDER BY c."updatedAt" DESC, c."id" DESC
  LIMIT 20`;

const BRANCH = `
  SELECT * FROM (
    SELECT m."id", m."role", m."content", m."position", m."status", m."createdAt"
    FROM "Message" m WHERE m."conversationId" = $1 ORDER BY m."position" DESC LIMIT 50
  ) m ORDER BY m."position"`;

async function answer(body: { page: string; userId?: string; conversationId?: string }): Promise<unknown> {
  if (body.page === 'typename') return { data: { __typename: 'Query' } };
  if (body.page === 'sidebar') {
    const { rows } = await pool.query(SIDEBAR, [body.userId]);
    return { data: { conversations: { edges: rows.map((row) => ({ node: { ...row, messages: { edges: row.messages.map((node: unknown) => ({ node })) } } })) } } };
  }
  const { rows } = await pool.query(BRANCH, [body.conversationId]);
  return { data: { conversation: { messages: { edges: rows.map((node) => ({ node })) } } } };
}

const server = http.createServer((req, res) => {
  let raw = '';
  req.on('data', (chunk) => (raw += chunk));
  req.on('end', () => {
    answer(JSON.parse(raw)).then(
      (result) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result)),
      (error) => res.writeHead(500).end(String(error)),
    );
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(`serving GraphQL at http://127.0.0.1:${port}/graphql`);
});
