package dev.sluice.client.tools;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.wire.json.Json;
import java.util.Objects;

/**
 * A Java function the model may call: its name, description, JSON-schema parameters, and the code that runs
 * it. The function gets the parsed arguments and returns the text sent back as the {@code tool} message.
 */
public record Tool(String name, String description, ObjectNode parameters, Function function) {

    @FunctionalInterface
    public interface Function {
        /** Runs the tool; an exception stops the {@link ToolRunner} with a {@link ToolExecutionException}. */
        String call(JsonNode arguments) throws Exception;
    }

    public Tool {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(function, "function");
        parameters = parameters == null ? Json.object().put("type", "object") : parameters.deepCopy();
    }

    @Override
    public ObjectNode parameters() {
        return parameters.deepCopy();
    }

    /** The tool definition of a chat request. */
    public ObjectNode definition() {
        var tool = Json.object().put("type", "function");
        var fn = tool.putObject("function").put("name", name);
        if (description != null) fn.put("description", description);
        fn.set("parameters", parameters.deepCopy());
        return tool;
    }
}
