package dev.sluice.client.tools;

/** A tool's function threw; the tool loop stops. The cause is what the function threw. */
public final class ToolExecutionException extends RuntimeException {

    private final String toolName;
    private final String toolCallId;

    public ToolExecutionException(String toolName, String toolCallId, Throwable cause) {
        super("tool \"" + toolName + "\" failed (call " + toolCallId + "): " + cause, cause);
        this.toolName = toolName;
        this.toolCallId = toolCallId;
    }

    public String toolName() {
        return toolName;
    }

    public String toolCallId() {
        return toolCallId;
    }
}
