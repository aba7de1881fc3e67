// The API's docs page, from the OpenAPI document the console serves: Swagger UI, bundled.
import "swagger-ui-dist/swagger-ui.css";
import { SwaggerUIBundle } from "swagger-ui-dist";

SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger",
  deepLinking: true,
  persistAuthorization: false,
});
