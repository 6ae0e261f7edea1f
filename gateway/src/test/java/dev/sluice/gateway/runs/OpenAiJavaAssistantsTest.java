package dev.sluice.gateway.runs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.NotFoundException;
import com.openai.models.beta.assistants.AssistantCreateParams;
import com.openai.models.beta.threads.ThreadCreateParams;
import com.openai.models.beta.threads.messages.MessageListParams;
import com.openai.models.beta.threads.runs.RunCreateParams;
import com.openai.models.beta.threads.runs.RunRetrieveParams;
import com.openai.models.beta.threads.runs.RunStatus;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The official openai-java SDK's beta Assistants calls against Sluice's Assistants API. */
class OpenAiJavaAssistantsTest {

    @TempDir
    static Path dir;

    static AssistantsClient api;
    static OpenAIClient client;

    @BeforeAll
    static void start() throws Exception {
        api = new AssistantsClient(dir);
        client = OpenAIOkHttpClient.builder().baseUrl(api.base()).apiKey("unused").maxRetries(0).timeout(Duration.ofSeconds(30)).build();
    }

    @AfterAll
    static void stop() {
        api.close();
    }

    private String thread(String text) {
        return client.beta().threads().create(ThreadCreateParams.builder()
                .addMessage(ThreadCreateParams.Message.builder().role(ThreadCreateParams.Message.Role.USER).content(text).build())
                .build()).id();
    }

    @Test
    void createPollAndListMessages() throws Exception {
        var assistant = client.beta().assistants().create(AssistantCreateParams.builder().model("echo").name("java").instructions("Be brief.").build());
        assertThat(assistant.id()).startsWith("asst_");
        var thread = thread("hello from java");
        var run = client.beta().threads().runs().create(thread, RunCreateParams.builder().assistantId(assistant.id()).build());
        assertThat(run.status()).isEqualTo(RunStatus.QUEUED);
        var deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!run.status().equals(RunStatus.COMPLETED) && System.nanoTime() < deadline) {
            Thread.sleep(20);
            run = client.beta().threads().runs().retrieve(run.id(), RunRetrieveParams.builder().threadId(thread).build());
        }
        assertThat(run.status()).isEqualTo(RunStatus.COMPLETED);
        assertThat(run.usage()).isPresent();
        var messages = client.beta().threads().messages().list(thread, MessageListParams.builder().order(MessageListParams.Order.ASC).build());
        assertThat(messages.data()).hasSize(2);
        assertThat(messages.data().get(1).content().getFirst().asText().text().value()).isEqualTo("hello from java");
    }

    @Test
    void streamingRun() {
        var assistant = client.beta().assistants().create(AssistantCreateParams.builder().model("echo").build());
        var thread = thread("stream to java");
        var text = new StringBuilder();
        boolean[] completed = {false};
        try (var stream = client.beta().threads().runs().createStreaming(thread, RunCreateParams.builder().assistantId(assistant.id()).build())) {
            stream.stream().forEach(event -> {
                if (event.isThreadMessageDelta()) {
                    event.asThreadMessageDelta().data().delta().content().orElseThrow()
                            .forEach(part -> text.append(part.asText().text().orElseThrow().value().orElse("")));
                }
                if (event.isThreadRunCompleted()) completed[0] = true;
            });
        }
        assertThat(text.toString()).isEqualTo("stream to java");
        assertThat(completed[0]).isTrue();
    }

    @Test
    void unknownThreadIs404() {
        assertThatThrownBy(() -> client.beta().threads().retrieve("thread_missing")).isInstanceOf(NotFoundException.class);
    }
}
