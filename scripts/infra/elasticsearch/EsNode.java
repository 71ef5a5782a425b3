// A single real Elasticsearch node for native (Docker-less) development and tests.
//
// Built from Elasticsearch's own Maven Central artifacts: the server, the netty4 HTTP transport
// plugin and the published test framework, whose MockNode accepts classpath plugins (a plain
// Node only loads plugins from a distribution's plugins/ folder, which Maven does not give us).
// Run with the Java source launcher: java -cp 'libs/*' EsNode.java <home> <http-port> <transport-port>
import java.lang.reflect.Constructor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.MockNode;
import org.elasticsearch.node.Node;
import org.elasticsearch.transport.netty4.Netty4Plugin;

public class EsNode {
    public static void main(String[] args) throws Exception {
        Path home = Path.of(args[0]).toAbsolutePath();
        String httpPort = args[1];
        String transportPort = args[2];
        Files.createDirectories(home.resolve("data"));
        Files.createDirectories(home.resolve("logs"));

        // Without this the node warns about a missing log4j2 configuration and logs nothing useful.
        LogConfigurator.loadLog4jPlugins();
        LogConfigurator.configureESLogging();

        Settings.Builder settings = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", "marketdata-native")
            .put("node.name", "native-1")
            .put("discovery.type", "single-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", httpPort)
            .put("transport.port", transportPort)
            // A laptop disk is often >90% full; native mode must not flip indices to read-only.
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.auto_create_index", true);
        // Extra settings (for example a tiny write queue to provoke 429s) come as es.* properties.
        for (String key : System.getProperties().stringPropertyNames()) {
            if (key.startsWith("es.setting.")) {
                settings.put(key.substring("es.setting.".length()), System.getProperty(key));
            }
        }

        // MockNode's public constructors call ESTestCase.getPortRange(), whose static set-up installs
        // the test SecurityManager and expects a randomized-testing context. Its private
        // Environment constructor does neither, so prepare the environment ourselves and call it.
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            settings.build(), Map.of(), home.resolve("config"), () -> "native-1");
        Constructor<MockNode> constructor =
            MockNode.class.getDeclaredConstructor(Environment.class, Collection.class, boolean.class);
        constructor.setAccessible(true);
        Node node = constructor.newInstance(environment, List.of(Netty4Plugin.class), true);
        node.start();
        System.out.println("elasticsearch native node started on http://127.0.0.1:" + httpPort);

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }));
        stopped.await();
    }
}
