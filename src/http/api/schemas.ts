// Schemas shared by several API routes.
import { Type } from "typebox";

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { $id: "Error" },
);

/** Standard error responses every authenticated route can give. */
export const authErrors = {
  401: Type.Ref("Error"),
  403: Type.Ref("Error"),
};
