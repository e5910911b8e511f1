// Stub executors for deploy_application.yaml: each action of the definition is an
// executor registered in code. A version ending in "-broken" fails the health check,
// which sends the run down the rollback path.
//
// The default export is what `trellis run --executors` expects: a function given the
// Runtime. `messages` collects what slack.post_message would have posted.
import { newExecutor, permanent } from "../../dist/index.js";

export const messages = [];

export default function register(rt) {
  const action = (kind, fn) => rt.registerExecutor(newExecutor(kind, async (step) => step.result(await fn(step.input(), step))));
  action("my_pack.create_deployment_record", ({ app_name, version }) => ({
    id: `dep-${app_name}-${version}`,
    health_url: `https://${app_name}.example/health?version=${version}`,
  }));
  action("docker.build_and_push", ({ app_name, version, registry }) => ({ image_uri: `${registry}/${app_name}:${version}` }));
  action("kubernetes.apply_deployment", ({ image, replicas }) => ({ applied: image, replicas }));
  action("kubernetes.wait_for_ready", ({ deployment }) => ({ ready: deployment }));
  action("http.get", ({ url, expected_status }) => {
    if (url.includes("-broken")) throw permanent("unhealthy", new Error(`GET ${url} answered 503, expected ${expected_status}`));
    return { status: 200 };
  });
  action("my_pack.update_deployment_status", ({ status }) => ({ status }));
  action("kubernetes.rollback_deployment", ({ app_name }) => ({ rolled_back: app_name }));
  action("my_pack.cleanup_resources", ({ deployment_id, rollback }) => ({ cleaned: deployment_id, rollback }));
  action("slack.post_message", ({ channel, message }) => {
    messages.push(`${channel}: ${message}`);
    return { posted: true };
  });
}

/** pack.config for the definition's `{{ pack.config.docker_registry }}`. */
export const config = { docker_registry: "registry.example:5000" };
