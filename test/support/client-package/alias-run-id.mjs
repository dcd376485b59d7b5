// Preloaded (--import) by the client package tests before the product document's
// "Workflow State Management" snippet, which asks for 'workflow_abc123': a Connect
// interceptor on the default platform answers that lookup with the run in $RUN_ID
// (real run ids are assigned by the server). Test only, like rewrite-urls.mjs.
import { configurePlatform } from "@weftflow/client";

configurePlatform({
  interceptors: [
    (next) => async (req) => {
      if (!req.stream && req.method.name === "GetWorkflow" && req.message.id === "workflow_abc123") req.message.id = process.env.RUN_ID;
      return next(req);
    },
  ],
});
