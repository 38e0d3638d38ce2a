// The API tokens module: the tokens API (the token service itself is kernel: the API's authentication uses it).
import type { OrchardModule } from "../server/module.ts";
import { tokensRoutes } from "../http/api/tokens-routes.ts";

export const tokensModule: OrchardModule = {
  name: "tokens",
  setup(ctx) {
    return { apiRoutes: [tokensRoutes(ctx)] };
  },
};
